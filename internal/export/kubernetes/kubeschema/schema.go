package kubeschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// Schemas are the schemas of a directory, by apiVersion and kind
// ("apps/v1 Deployment").
type Schemas struct {
	byKind map[string]*schema
	dir    string
}

// schema is one kind's root schema and how to read it.
type schema struct {
	root map[string]any
	// crd: the schema is a CRD's openAPIV3Schema, where an object with
	// properties but no additionalProperties is closed unless it says
	// x-kubernetes-preserve-unknown-fields.
	crd bool
	// file resolves a $ref without a file part.
	file string
}

// LoadDir reads every *.json schema (with x-kubernetes-group-version-kind)
// and every *.yaml CustomResourceDefinition in dir. A CRD's metadata, left
// open by its schema, is checked against the ObjectMeta of a JSON schema
// of the same directory.
func LoadDir(dir string) (*Schemas, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read schema directory: %w", err)
	}
	s := &Schemas{byKind: map[string]*schema{}, dir: dir}
	var objectMeta any
	var crds []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".json":
			root, err := readJSON(path)
			if err != nil {
				return nil, err
			}
			gvks, _ := root["x-kubernetes-group-version-kind"].([]any)
			if len(gvks) == 0 {
				return nil, fmt.Errorf("schema %s: no x-kubernetes-group-version-kind", e.Name())
			}
			for _, g := range gvks {
				m, _ := g.(map[string]any)
				key := kindKey(apiVersion(str(m["group"]), str(m["version"])), str(m["kind"]))
				s.byKind[key] = &schema{root: root, file: e.Name()}
			}
			if props, ok := root["properties"].(map[string]any); ok && objectMeta == nil {
				objectMeta = props["metadata"]
			}
		case ".yaml", ".yml":
			crds = append(crds, path)
		}
	}
	for _, path := range crds {
		if err := s.loadCRD(path, objectMeta); err != nil {
			return nil, err
		}
	}
	if len(s.byKind) == 0 {
		return nil, fmt.Errorf("no schemas in %s", dir)
	}
	return s, nil
}

func readJSON(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", filepath.Base(path), err)
	}
	return root, nil
}

// loadCRD adds every served version of a CustomResourceDefinition.
func (s *Schemas) loadCRD(path string, objectMeta any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read crd: %w", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("parse crd %s: %w", filepath.Base(path), err)
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(js, &crd); err != nil {
		return fmt.Errorf("parse crd %s: %w", filepath.Base(path), err)
	}
	if crd.Kind != "CustomResourceDefinition" {
		return fmt.Errorf("%s is a %q, not a CustomResourceDefinition", filepath.Base(path), crd.Kind)
	}
	for _, v := range crd.Spec.Versions {
		root := v.Schema.OpenAPIV3Schema
		if !v.Served || root == nil {
			continue
		}
		av := apiVersion(crd.Spec.Group, v.Name)
		// The API server checks apiVersion, kind and metadata itself; say
		// so in the schema, so that the validator does too.
		props, _ := root["properties"].(map[string]any)
		if props != nil {
			props["apiVersion"] = map[string]any{"type": "string", "enum": []any{av}}
			props["kind"] = map[string]any{"type": "string", "enum": []any{crd.Spec.Names.Kind}}
			if objectMeta != nil {
				props["metadata"] = objectMeta
			}
		}
		s.byKind[kindKey(av, crd.Spec.Names.Kind)] = &schema{root: root, crd: true, file: filepath.Base(path)}
	}
	return nil
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

func kindKey(apiVersion, kind string) string { return apiVersion + " " + kind }

func str(x any) string { s, _ := x.(string); return s }

// Kinds lists the kinds with a schema ("apps/v1 Deployment"), sorted.
func (s *Schemas) Kinds() []string {
	out := make([]string, 0, len(s.byKind))
	for k := range s.byKind {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validate checks one decoded document (JSON types: map[string]any,
// []any, string, float64, bool, nil) against the schema of its apiVersion
// and kind, and returns its problems, each "path: what is wrong"; nil when
// it is valid. A kind without a schema is a problem.
func (s *Schemas) Validate(doc any) []string {
	m, ok := doc.(map[string]any)
	if !ok {
		return []string{"/: a manifest must be an object"}
	}
	key := kindKey(str(m["apiVersion"]), str(m["kind"]))
	sch, ok := s.byKind[key]
	if !ok {
		return []string{fmt.Sprintf("/: no schema for %q; known: %s", key, strings.Join(s.Kinds(), ", "))}
	}
	v := &validator{schemas: s, current: sch}
	v.validate(sch.root, doc, "")
	return v.problems
}

// ValidateYAML splits a multi-document YAML stream on "---" lines and
// validates every non-empty document, prefixing problems with the
// document's index and kind.
func (s *Schemas) ValidateYAML(data []byte) ([]string, error) {
	var problems []string
	for i, part := range SplitDocuments(data) {
		js, err := yaml.YAMLToJSON(part)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var doc any
		if err := json.Unmarshal(js, &doc); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil {
			continue // only comments
		}
		kind := ""
		if m, ok := doc.(map[string]any); ok {
			kind = str(m["kind"])
		}
		for _, p := range s.Validate(doc) {
			problems = append(problems, fmt.Sprintf("document %d (%s) %s", i, kind, p))
		}
	}
	return problems, nil
}

// SplitDocuments splits a YAML stream at lines that are exactly "---".
func SplitDocuments(data []byte) [][]byte {
	var out [][]byte
	var cur []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if string(bytes.TrimRight(line, "\r\n")) == "---" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	return append(out, cur)
}

// refFiles caches schema files read to resolve a $ref to another file.
var refFiles sync.Map // path → map[string]any

// regexps caches compiled patterns.
var regexps sync.Map // pattern → *regexp.Regexp

// SharedDir finds the Kubernetes schemas the tests validate against:
// byte-for-byte copies of the official ones (../shared/schemas/kubernetes
// beside the module's root) kept in this package's testdata/schemas, so
// that a checkout without the shared directory tests the same way
// (TestSchemasAreTheShared keeps the copies honest). It starts from the
// working directory, as a test runs in its package's directory.
func SharedDir() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "internal", "export", "kubernetes", "kubeschema", "testdata", "schemas")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("kubernetes schemas: %w", err)
	}
	return dir, nil
}

// OfficialDir is where the official schemas are, when the checkout sits
// beside the shared directory; ok is false otherwise.
func OfficialDir() (dir string, ok bool) {
	root, err := moduleRoot()
	if err != nil {
		return "", false
	}
	dir = filepath.Join(filepath.Dir(root), "shared", "schemas", "kubernetes")
	_, err = os.Stat(dir)
	return dir, err == nil
}

// moduleRoot is the nearest directory above the working one with a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kubernetes schemas: no go.mod above the working directory")
		}
		dir = parent
	}
}
