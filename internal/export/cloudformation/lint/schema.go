package lint

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Schemas are resource provider schemas by type name (AWS::ECS::Service).
type Schemas struct {
	byType map[string]*provider
}

// provider is one resource provider schema.
type provider struct {
	root     map[string]any
	readOnly map[string]bool // attribute names: "Arn", "Endpoint.Address"
}

// LoadDir reads every *.json provider schema in dir (not subdirectories).
func LoadDir(dir string) (*Schemas, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no provider schemas in %s", dir)
	}
	s := &Schemas{byType: map[string]*provider{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var root map[string]any
		if err := json.Unmarshal(data, &root); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		name, _ := root["typeName"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s has no typeName", f)
		}
		p := &provider{root: root, readOnly: map[string]bool{}}
		ro, _ := root["readOnlyProperties"].([]any)
		for _, r := range ro {
			ptr, _ := r.(string)
			attr := strings.ReplaceAll(strings.TrimPrefix(ptr, "/properties/"), "/", ".")
			p.readOnly[attr] = true
		}
		s.byType[name] = p
	}
	return s, nil
}

// Types lists the types with a schema, sorted.
func (s *Schemas) Types() []string {
	out := make([]string, 0, len(s.byType))
	for t := range s.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// validator validates values against one provider's schema, collecting
// problems.
type validator struct {
	root     map[string]any
	problems []string
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

// resolve follows a local $ref ("#/definitions/X").
func (v *validator) resolve(sch map[string]any) map[string]any {
	for i := 0; i < 32; i++ {
		ref, ok := sch["$ref"].(string)
		if !ok {
			return sch
		}
		var node any = v.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := node.(map[string]any)
			node = m[part]
		}
		next, ok := node.(map[string]any)
		if !ok {
			v.add("$ref", "schema reference %s does not resolve", ref)
			return map[string]any{}
		}
		// Keywords beside $ref also apply; merge them in (they are rare
		// in provider schemas and never conflict).
		merged := map[string]any{}
		for k, x := range next {
			merged[k] = x
		}
		for k, x := range sch {
			if k != "$ref" {
				merged[k] = x
			}
		}
		sch = merged
	}
	return sch
}

// types lists the JSON types a schema allows (nil: any).
func types(sch map[string]any) []string {
	switch t := sch["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// intrinsic reports whether x is an intrinsic function call (a one-key
// object: Ref or Fn::*), and its name.
func intrinsic(x any) (string, any, bool) {
	m, ok := x.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

func isNoValue(x any) bool {
	name, arg, ok := intrinsic(x)
	return ok && name == "Ref" && arg == "AWS::NoValue"
}

// validate checks x against sch at path.
func (v *validator) validate(sch map[string]any, x any, path string) {
	sch = v.resolve(sch)
	if name, arg, ok := intrinsic(x); ok {
		v.intrinsic(sch, name, arg, path)
		return
	}
	if ts := types(sch); ts != nil && !v.typeOK(ts, x) {
		v.add(path, "%s is not of type %s", describe(x), strings.Join(ts, " or "))
		return
	}
	if enum, ok := sch["enum"].([]any); ok && !contains(enum, x) {
		v.add(path, "%s is not one of %s", describe(x), render(enum))
	}
	if c, ok := sch["const"]; ok && !equal(c, x) {
		v.add(path, "%s is not %s", describe(x), render(c))
	}
	switch val := x.(type) {
	case string:
		v.validateString(sch, val, path)
	case float64:
		v.validateNumber(sch, val, path)
	case []any:
		v.validateArray(sch, val, path)
	case map[string]any:
		v.validateObject(sch, val, path)
	}
	v.validateCombinators(sch, x, path)
}

// intrinsic accepts a function call wherever the schema allows a scalar
// or a list (what a function returns is only known at deploy time);
// Fn::If checks both of its branches against the schema instead.
func (v *validator) intrinsic(sch map[string]any, name string, arg any, path string) {
	if name == "Fn::If" {
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			v.add(path, "Fn::If takes [condition, value if true, value if false]")
			return
		}
		for i, branch := range args[1:] {
			if !isNoValue(branch) {
				v.validate(sch, branch, fmt.Sprintf("%s/Fn::If[%d]", path, i+1))
			}
		}
		return
	}
	ts := types(sch)
	if ts == nil {
		return
	}
	for _, t := range ts {
		if t != "object" {
			return
		}
	}
	v.add(path, "%s where an object is expected", name)
}

func (v *validator) typeOK(ts []string, x any) bool {
	for _, t := range ts {
		switch t {
		case "string":
			if _, ok := x.(string); ok {
				return true
			}
		case "number":
			if _, ok := x.(float64); ok {
				return true
			}
		case "integer":
			if f, ok := x.(float64); ok && f == math.Trunc(f) {
				return true
			}
		case "boolean":
			if _, ok := x.(bool); ok {
				return true
			}
		case "array":
			if _, ok := x.([]any); ok {
				return true
			}
		case "object":
			if _, ok := x.(map[string]any); ok {
				return true
			}
		case "null":
			if x == nil {
				return true
			}
		}
	}
	return false
}

func (v *validator) validateString(sch map[string]any, s string, path string) {
	n := float64(len([]rune(s)))
	if m, ok := sch["minLength"].(float64); ok && n < m {
		v.add(path, "%q is shorter than %g", s, m)
	}
	if m, ok := sch["maxLength"].(float64); ok && n > m {
		v.add(path, "%q is longer than %g", s, m)
	}
	if p, ok := sch["pattern"].(string); ok {
		if re := compile(p); re != nil && !re.MatchString(s) {
			v.add(path, "%q does not match %s", s, p)
		}
	}
}

func (v *validator) validateNumber(sch map[string]any, f float64, path string) {
	if m, ok := sch["minimum"].(float64); ok && f < m {
		v.add(path, "%g is less than the minimum %g", f, m)
	}
	if m, ok := sch["maximum"].(float64); ok && f > m {
		v.add(path, "%g is more than the maximum %g", f, m)
	}
	if m, ok := sch["multipleOf"].(float64); ok && m > 0 && math.Mod(f, m) != 0 {
		v.add(path, "%g is not a multiple of %g", f, m)
	}
}

func (v *validator) validateArray(sch map[string]any, a []any, path string) {
	n := float64(len(a))
	if m, ok := sch["minItems"].(float64); ok && n < m {
		v.add(path, "%d items, fewer than %g", len(a), m)
	}
	if m, ok := sch["maxItems"].(float64); ok && n > m {
		v.add(path, "%d items, more than %g", len(a), m)
	}
	if u, _ := sch["uniqueItems"].(bool); u {
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if equal(a[i], a[j]) {
					v.add(path, "items %d and %d are equal; items must be unique", i, j)
				}
			}
		}
	}
	if items, ok := sch["items"].(map[string]any); ok {
		for i, x := range a {
			v.validate(items, x, fmt.Sprintf("%s/%d", path, i))
		}
	}
}

func (v *validator) validateObject(sch map[string]any, o map[string]any, path string) {
	props, _ := sch["properties"].(map[string]any)
	pattern, _ := sch["patternProperties"].(map[string]any)
	present := func(k string) bool {
		x, ok := o[k]
		return ok && !isNoValue(x)
	}
	if req, ok := sch["required"].([]any); ok {
		for _, r := range req {
			if k, _ := r.(string); !present(k) {
				v.add(path, "required property %s is missing", k)
			}
		}
	}
	count := func(list []any) (n int, names []string) {
		for _, r := range list {
			k, _ := r.(string)
			names = append(names, k)
			if present(k) {
				n++
			}
		}
		return n, names
	}
	if xor, ok := sch["requiredXor"].([]any); ok {
		if n, names := count(xor); n != 1 {
			v.add(path, "exactly one of %s is required, got %d", strings.Join(names, ", "), n)
		}
	}
	if or, ok := sch["requiredOr"].([]any); ok {
		if n, names := count(or); n == 0 {
			v.add(path, "one of %s is required", strings.Join(names, ", "))
		}
	}
	if dep, ok := sch["dependentRequired"].(map[string]any); ok {
		for k, list := range dep {
			if !present(k) {
				continue
			}
			for _, r := range asList(list) {
				if d, _ := r.(string); !present(d) {
					v.add(path, "%s requires %s", k, d)
				}
			}
		}
	}
	if dep, ok := sch["dependentExcluded"].(map[string]any); ok {
		for k, list := range dep {
			if !present(k) {
				continue
			}
			for _, r := range asList(list) {
				if d, _ := r.(string); present(d) {
					v.add(path, "%s excludes %s", k, d)
				}
			}
		}
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x := o[k]
		if isNoValue(x) {
			continue
		}
		p := path + "/" + k
		matched := false
		if ps, ok := props[k].(map[string]any); ok {
			v.validate(ps, x, p)
			matched = true
		}
		for pat, ps := range pattern {
			if re := compile(pat); re != nil && re.MatchString(k) {
				if m, ok := ps.(map[string]any); ok {
					v.validate(m, x, p)
				}
				matched = true
			}
		}
		if matched {
			continue
		}
		switch ap := sch["additionalProperties"].(type) {
		case bool:
			if !ap {
				v.add(path, "property %s is not allowed", k)
			}
		case map[string]any:
			v.validate(ap, x, p)
		}
	}
}

func (v *validator) validateCombinators(sch map[string]any, x any, path string) {
	try := func(sub any) bool {
		m, ok := sub.(map[string]any)
		if !ok {
			return true
		}
		inner := &validator{root: v.root}
		inner.validate(m, x, path)
		return len(inner.problems) == 0
	}
	if all, ok := sch["allOf"].([]any); ok {
		for _, sub := range all {
			if m, ok := sub.(map[string]any); ok {
				v.validate(m, x, path)
			}
		}
	}
	if any_, ok := sch["anyOf"].([]any); ok {
		okOne := false
		for _, sub := range any_ {
			if try(sub) {
				okOne = true
				break
			}
		}
		if !okOne {
			v.add(path, "%s matches none of anyOf's %d schemas", describe(x), len(any_))
		}
	}
	if one, ok := sch["oneOf"].([]any); ok {
		n := 0
		for _, sub := range one {
			if try(sub) {
				n++
			}
		}
		if n != 1 {
			v.add(path, "%s matches %d of oneOf's %d schemas, want exactly 1", describe(x), n, len(one))
		}
	}
}

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

// compile compiles a schema pattern for Go's RE2, or returns nil for a
// pattern RE2 cannot express (lookarounds, \p{Print}): such patterns are
// not checked.
func compile(p string) *regexp.Regexp {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[p]; ok {
		return re
	}
	re, err := regexp.Compile(strings.ReplaceAll(p, `\Z`, `\z`))
	if err != nil {
		re = nil
	}
	reCache[p] = re
	return re
}

func asList(x any) []any {
	if l, ok := x.([]any); ok {
		return l
	}
	return nil
}

func contains(list []any, x any) bool {
	for _, e := range list {
		if equal(e, x) {
			return true
		}
	}
	return false
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func render(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

func describe(x any) string {
	s := render(x)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
