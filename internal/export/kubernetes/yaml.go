package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// document is one YAML document: comment lines above an API object.
type document struct {
	comments []string
	object   any
}

// render writes documents as one YAML stream, "---" between them. Keys
// come out sorted (JSON, then YAML of a map), so output is deterministic.
func render(docs []document) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		for _, c := range d.comments {
			for _, line := range strings.Split(c, "\n") {
				buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
			}
		}
		out, err := marshal(d.object)
		if err != nil {
			return nil, err
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// marshal turns an API object into YAML without what the Go types add and
// a manifest should not have: nulls (creationTimestamp: null) and status,
// which the cluster writes.
func marshal(obj any) ([]byte, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	var tree any
	if err := json.Unmarshal(js, &tree); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	if m, ok := tree.(map[string]any); ok {
		delete(m, "status")
	}
	out, err := yaml.Marshal(prune(tree))
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	return out, nil
}

// prune drops null members of objects, recursively.
func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
				continue
			}
			v[k] = prune(e)
		}
	case []any:
		for i, e := range v {
			v[i] = prune(e)
		}
	}
	return x
}
