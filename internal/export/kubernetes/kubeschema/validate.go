package kubeschema

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// validator walks one document, collecting problems.
type validator struct {
	schemas  *Schemas
	current  *schema
	problems []string
}

func (v *validator) add(path, format string, args ...any) {
	if path == "" {
		path = "/"
	}
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

// resolve follows a $ref: "#/definitions/x" in the current file, or
// "other.json#/definitions/x" in the schema directory. Keywords beside
// the $ref are kept.
func (v *validator) resolve(sch map[string]any, path string) map[string]any {
	for range 32 {
		ref, ok := sch["$ref"].(string)
		if !ok {
			return sch
		}
		file, pointer, _ := strings.Cut(ref, "#")
		root := v.current.root
		if file != "" && file != v.current.file {
			r, err := v.schemas.file(file)
			if err != nil {
				v.add(path, "schema reference %s: %v", ref, err)
				return map[string]any{}
			}
			root = r
		}
		var node any = root
		for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
			if part == "" {
				continue
			}
			m, _ := node.(map[string]any)
			node = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		next, ok := node.(map[string]any)
		if !ok {
			v.add(path, "schema reference %s does not resolve", ref)
			return map[string]any{}
		}
		merged := make(map[string]any, len(next)+len(sch))
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
	v.add(path, "schema references nest too deep")
	return map[string]any{}
}

// file reads a schema file of the directory for a $ref; names may not
// leave the directory.
func (s *Schemas) file(name string) (map[string]any, error) {
	if name != filepath.Base(name) {
		return nil, fmt.Errorf("%s is outside the schema directory", name)
	}
	path := filepath.Join(s.dir, name)
	if r, ok := refFiles.Load(path); ok {
		return r.(map[string]any), nil
	}
	r, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	refFiles.Store(path, r)
	return r, nil
}

// validate checks x against sch at path.
func (v *validator) validate(sch map[string]any, x any, path string) {
	sch = v.resolve(sch, path)
	if b, _ := sch["x-kubernetes-int-or-string"].(bool); b {
		if !isInteger(x) && !isString(x) {
			v.add(path, "%s is neither an integer nor a string", describe(x))
			return
		}
	} else if x == nil {
		ts := types(sch)
		nullable, _ := sch["nullable"].(bool)
		if ts != nil && !contains(ts, "null") && !nullable {
			v.add(path, "null is not allowed; expected %s", strings.Join(ts, " or "))
		}
		return
	} else if ts := types(sch); ts != nil && !typeOK(ts, x) {
		v.add(path, "%s is not of type %s", describe(x), strings.Join(nonNull(ts), " or "))
		return
	}
	if enum, ok := sch["enum"].([]any); ok && !containsValue(enum, x) {
		v.add(path, "%s is not one of %s", describe(x), render(enum))
	}
	switch val := x.(type) {
	case string:
		v.validateString(sch, val, path)
	case float64:
		v.validateNumber(sch, val, path)
	case []any:
		if items, ok := sch["items"].(map[string]any); ok {
			for i, item := range val {
				v.validate(items, item, fmt.Sprintf("%s/%d", path, i))
			}
		}
		v.validateCount(sch, "minItems", "maxItems", len(val), path)
	case map[string]any:
		v.validateObject(sch, val, path)
	}
	v.validateCombinators(sch, x, path)
}

func (v *validator) validateString(sch map[string]any, s string, path string) {
	v.validateCount(sch, "minLength", "maxLength", len([]rune(s)), path)
	if p, ok := sch["pattern"].(string); ok {
		re, err := compile(p)
		if err != nil {
			v.add(path, "schema pattern %s: %v", p, err)
		} else if !re.MatchString(s) {
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
	if sch["format"] == "int32" && (f < math.MinInt32 || f > math.MaxInt32) {
		v.add(path, "%g is out of the int32 range", f)
	}
}

func (v *validator) validateCount(sch map[string]any, minKey, maxKey string, n int, path string) {
	if m, ok := sch[minKey].(float64); ok && float64(n) < m {
		v.add(path, "%d is fewer than %s %g", n, minKey, m)
	}
	if m, ok := sch[maxKey].(float64); ok && float64(n) > m {
		v.add(path, "%d is more than %s %g", n, maxKey, m)
	}
}

func (v *validator) validateObject(sch map[string]any, o map[string]any, path string) {
	props, _ := sch["properties"].(map[string]any)
	if req, ok := sch["required"].([]any); ok {
		for _, r := range req {
			if k := str(r); o[k] == nil {
				v.add(path, "required property %s is missing", k)
			}
		}
	}
	preserve, _ := sch["x-kubernetes-preserve-unknown-fields"].(bool)
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "/" + k
		if ps, ok := props[k].(map[string]any); ok {
			v.validate(ps, o[k], p)
			continue
		}
		switch ap := sch["additionalProperties"].(type) {
		case bool:
			if !ap {
				v.add(path, "property %s is not allowed; allowed: %s", k, names(props))
			}
		case map[string]any:
			v.validate(ap, o[k], p)
		case nil:
			// A CRD's structural schema closes an object that lists
			// properties: the server would drop anything else.
			if v.current.crd && props != nil && !preserve {
				v.add(path, "property %s is not in the schema (the API server would drop it); allowed: %s", k, names(props))
			}
		}
	}
}

func (v *validator) validateCombinators(sch map[string]any, x any, path string) {
	try := func(sub any) bool {
		m, ok := sub.(map[string]any)
		if !ok {
			return true
		}
		inner := &validator{schemas: v.schemas, current: v.current}
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
	// The CRD's int-or-string fields say anyOf integer/string beside
	// x-kubernetes-int-or-string, which validate already checked.
	if anyOf, ok := sch["anyOf"].([]any); ok {
		if b, _ := sch["x-kubernetes-int-or-string"].(bool); !b {
			matched := false
			for _, sub := range anyOf {
				if try(sub) {
					matched = true
					break
				}
			}
			if !matched {
				v.add(path, "%s matches none of the allowed forms (anyOf)", describe(x))
			}
		}
	}
	if oneOf, ok := sch["oneOf"].([]any); ok {
		n := 0
		for _, sub := range oneOf {
			if try(sub) {
				n++
			}
		}
		if n != 1 {
			v.add(path, "%s matches %d of the allowed forms, not exactly one (oneOf)", describe(x), n)
		}
	}
	if not, ok := sch["not"].(map[string]any); ok && try(not) {
		v.add(path, "%s matches a form that is not allowed (not)", describe(x))
	}
}

// types lists the JSON types a schema allows (nil: any).
func types(sch map[string]any) []string {
	switch t := sch["type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			out = append(out, str(x))
		}
		return out
	}
	return nil
}

func nonNull(ts []string) []string {
	var out []string
	for _, t := range ts {
		if t != "null" {
			out = append(out, t)
		}
	}
	return out
}

func typeOK(ts []string, x any) bool {
	for _, t := range ts {
		switch t {
		case "string":
			if isString(x) {
				return true
			}
		case "number":
			if _, ok := x.(float64); ok {
				return true
			}
		case "integer":
			if isInteger(x) {
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
		}
	}
	return false
}

func isString(x any) bool { _, ok := x.(string); return ok }

func isInteger(x any) bool {
	f, ok := x.(float64)
	return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsValue(list []any, x any) bool {
	for _, e := range list {
		if render(e) == render(x) {
			return true
		}
	}
	return false
}

func names(props map[string]any) string {
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func render(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return string(b)
}

// describe renders a value for a message, shortened.
func describe(x any) string {
	s := render(x)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func compile(p string) (*regexp.Regexp, error) {
	if re, ok := regexps.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	regexps.Store(p, re)
	return re, nil
}
