package cloudformation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// obj is a JSON object of a template; maps marshal with sorted keys, so
// templates are deterministic.
type obj = map[string]any

// list is a JSON array of a template.
type list = []any

func ref(name string) obj              { return obj{"Ref": name} }
func getAtt(res, attr string) obj      { return obj{"Fn::GetAtt": list{res, attr}} }
func sub(s string) obj                 { return obj{"Fn::Sub": s} }
func ifThen(cond string, a, b any) obj { return obj{"Fn::If": list{cond, a, b}} }

// template is one CloudFormation template being built.
type template struct {
	description string
	params      obj
	rules       obj
	conds       obj
	resources   obj
	outputs     obj
	metadata    obj
	warnings    []string
}

func newTemplate(description string) *template {
	return &template{description: description, params: obj{}, rules: obj{}, conds: obj{}, resources: obj{}, outputs: obj{}, metadata: obj{}}
}

// add adds a resource; extra sets resource attributes such as Condition
// or DependsOn.
func (t *template) add(name, typ string, props obj, extra ...obj) {
	if _, dup := t.resources[name]; dup {
		panic("duplicate logical ID " + name) // a bug in the exporter, not bad input
	}
	r := obj{"Type": typ, "Properties": props}
	for _, e := range extra {
		for k, v := range e {
			r[k] = v
		}
	}
	t.resources[name] = r
}

func (t *template) param(name string, p obj) { t.params[name] = p }

func (t *template) output(name, description string, value any) {
	t.outputs[name] = obj{"Description": description, "Value": value}
}

func (t *template) warn(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

// marshal renders the template as indented JSON with sorted keys. The
// warnings go in Metadata, under Slipway.Warnings.
func (t *template) marshal() ([]byte, error) {
	doc := obj{"AWSTemplateFormatVersion": "2010-09-09", "Description": t.description, "Resources": t.resources}
	for k, v := range map[string]obj{"Parameters": t.params, "Rules": t.rules, "Conditions": t.conds, "Outputs": t.outputs} {
		if len(v) > 0 {
			doc[k] = v
		}
	}
	meta := obj{}
	for k, v := range t.metadata {
		meta[k] = v
	}
	if len(t.warnings) > 0 {
		w := append([]string(nil), t.warnings...)
		sort.Strings(w)
		meta["Warnings"] = w
	}
	if len(meta) > 0 {
		doc["Metadata"] = obj{"Slipway": meta}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	return buf.Bytes(), nil
}

// logicalID turns a name (a stage, an env variable) into the letters and
// digits a logical ID may hold, CamelCased: "my-stage" is "MyStage".
func logicalID(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) || r > unicode.MaxASCII {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		} else {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// uniqueIDs maps names to logical IDs with prefix, numbering any that
// collide ("A_B" and "AB" are both "AB"), in sorted name order.
func uniqueIDs(prefix string, names []string) map[string]string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	out := map[string]string{}
	used := map[string]bool{}
	for _, n := range sorted {
		id := prefix + logicalID(n)
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("%s%s%d", prefix, logicalID(n), i)
		}
		used[id] = true
		out[n] = id
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assumeRole is an IAM trust policy for an AWS service principal.
func assumeRole(service string) obj {
	return obj{
		"Version": "2012-10-17",
		"Statement": list{obj{
			"Effect": "Allow", "Principal": obj{"Service": service}, "Action": "sts:AssumeRole",
		}},
	}
}

// policy is an inline IAM policy of statements (Effect Allow).
func policy(name string, statements ...obj) obj {
	st := list{}
	for _, s := range statements {
		s["Effect"] = "Allow"
		st = append(st, s)
	}
	return obj{"PolicyName": name, "PolicyDocument": obj{"Version": "2012-10-17", "Statement": st}}
}

func tags(stack, stage string) list {
	t := list{obj{"Key": "slipway:stack", "Value": stack}}
	if stage != "" {
		t = append(t, obj{"Key": "slipway:stage", "Value": stage})
	}
	return t
}
