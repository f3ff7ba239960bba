package lint

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Pseudo-parameters any template may Ref.
var pseudo = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// Unschemed lists resource types the checks accept without a provider
// schema (their Properties are not validated), each with the attributes
// Fn::GetAtt may read from it.
type Unschemed map[string][]string

// Check validates a template (JSON) and returns its problems, sorted; nil
// when it is valid. Each problem names where it is ("Resources/Api/
// Properties/Name: ...").
func (s *Schemas) Check(template []byte, unschemed Unschemed) []string {
	var t struct {
		Parameters map[string]any            `json:"Parameters"`
		Rules      map[string]any            `json:"Rules"`
		Conditions map[string]any            `json:"Conditions"`
		Resources  map[string]map[string]any `json:"Resources"`
		Outputs    map[string]any            `json:"Outputs"`
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return []string{"template: " + err.Error()}
	}
	c := &checker{s: s, unschemed: unschemed, params: t.Parameters, conds: t.Conditions, res: t.Resources, used: map[string]bool{}}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(template, &top) // it parsed above
	for k := range top {
		if !templateKeys[k] {
			c.add(k, "%s is not a template section (allowed: %s)", k, strings.Join(keys(templateKeys), ", "))
		}
	}
	for name, p := range t.Parameters {
		if m, _ := p.(map[string]any); m["Type"] == nil {
			c.add("Parameters/"+name, "a parameter needs a Type")
		}
	}
	if len(t.Resources) == 0 {
		c.add("Resources", "a template needs at least one resource")
	}
	for name, r := range t.Resources {
		c.resource(name, r)
	}
	for name, rule := range t.Rules {
		c.rule(name, rule)
	}
	for name, cond := range t.Conditions {
		c.under = nil
		c.refs(cond, "Conditions/"+name)
	}
	for name, out := range t.Outputs {
		m, _ := out.(map[string]any)
		if _, ok := m["Value"]; !ok {
			c.add("Outputs/"+name, "an output needs a Value")
		}
		c.under = nil
		if cn, ok := m["Condition"].(string); ok {
			c.condition(cn, "Outputs/"+name+"/Condition")
			c.under = []string{cn}
		}
		c.refs(out, "Outputs/"+name)
	}
	// As cfn-lint warns: a parameter or condition nothing uses is a
	// leftover, or a sign that what should use it does not.
	for name := range t.Parameters {
		if !c.used["param:"+name] {
			c.add("Parameters/"+name, "parameter %s is never used", name)
		}
	}
	for name := range t.Conditions {
		if !c.used["cond:"+name] {
			c.add("Conditions/"+name, "condition %s is never used", name)
		}
	}
	sort.Strings(c.problems)
	return c.problems
}

type checker struct {
	s         *Schemas
	unschemed Unschemed
	params    map[string]any
	conds     map[string]any
	res       map[string]map[string]any
	used      map[string]bool // "param:<name>", "cond:<name>"
	// inRules: the walk is in the Rules section, where only parameters
	// may be named and the rule functions are allowed.
	inRules bool
	// under are the conditions known true where the walk is: the
	// resource's or output's Condition, and Fn::If's true branches.
	under    []string
	problems []string
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

// templateKeys are a template's sections; resourceKeys the attributes a
// resource may have.
var (
	templateKeys = map[string]bool{"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true, "Parameters": true,
		"Rules": true, "Mappings": true, "Conditions": true, "Transform": true, "Resources": true, "Outputs": true}
	resourceKeys = map[string]bool{"Type": true, "Properties": true, "Condition": true, "DependsOn": true, "DeletionPolicy": true,
		"UpdateReplacePolicy": true, "Metadata": true, "CreationPolicy": true, "UpdatePolicy": true}
	deletionPolicies = map[string]bool{"Delete": true, "Retain": true, "RetainExceptOnCreate": true, "Snapshot": true}
)

func (c *checker) resource(name string, r map[string]any) {
	path := "Resources/" + name
	typ, _ := r["Type"].(string)
	if typ == "" {
		c.add(path, "a resource needs a Type")
	}
	for k := range r {
		if !resourceKeys[k] {
			c.add(path, "%s is not a resource attribute (allowed: %s)", k, strings.Join(keys(resourceKeys), ", "))
		}
	}
	for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v, ok := r[k]; ok {
			if s, _ := v.(string); !deletionPolicies[s] {
				c.add(path+"/"+k, "%s is not one of %s", describe(v), strings.Join(keys(deletionPolicies), ", "))
			}
		}
	}
	c.under = nil
	if cn, ok := r["Condition"].(string); ok {
		c.condition(cn, path+"/Condition")
		c.under = []string{cn}
	}
	switch d := r["DependsOn"].(type) {
	case string:
		c.exists(d, path+"/DependsOn")
		c.mayExist(d, path+"/DependsOn")
	case []any:
		for _, x := range d {
			s, _ := x.(string)
			c.exists(s, path+"/DependsOn")
			c.mayExist(s, path+"/DependsOn")
		}
	}
	props, hasProps := r["Properties"]
	c.refs(props, path+"/Properties")
	if _, ok := c.unschemed[typ]; ok {
		return
	}
	p, ok := c.s.byType[typ]
	if !ok {
		c.add(path, "no provider schema for type %q", typ)
		return
	}
	if !hasProps {
		props = map[string]any{}
	}
	v := &validator{root: p.root}
	v.validate(p.root, props, path+"/Properties")
	c.problems = append(c.problems, v.problems...)
}

func (c *checker) exists(res, path string) {
	if _, ok := c.res[res]; !ok {
		c.add(path, "%q is not a resource of the template", res)
	}
}

func (c *checker) condition(name, path string) {
	c.used["cond:"+name] = true
	if _, ok := c.conds[name]; !ok {
		c.add(path, "condition %q is not defined", name)
	}
}

// mayExist reports a reference to a resource created only under a
// condition from where that condition is not known to hold: on a stack
// where it is false, the reference fails.
func (c *checker) mayExist(res, path string) {
	r, ok := c.res[res]
	if !ok {
		return
	}
	cn, ok := r["Condition"].(string)
	if !ok {
		return
	}
	for _, u := range c.under {
		if u == cn {
			return
		}
	}
	c.add(path, "%s exists only under condition %s, which does not hold here (use Fn::If %s)", res, cn, cn)
}

// rule checks a template rule: assertions, each with an Assert, and
// functions of parameters only.
func (c *checker) rule(name string, x any) {
	path := "Rules/" + name
	r, _ := x.(map[string]any)
	asserts, _ := r["Assertions"].([]any)
	if len(asserts) == 0 {
		c.add(path, "a rule needs Assertions")
	}
	for i, a := range asserts {
		if m, _ := a.(map[string]any); m["Assert"] == nil {
			c.add(fmt.Sprintf("%s/Assertions/%d", path, i), "an assertion needs an Assert")
		}
	}
	for k := range r {
		if k != "RuleCondition" && k != "Assertions" {
			c.add(path, "%s is not a rule's key (allowed: Assertions, RuleCondition)", k)
		}
	}
	c.under, c.inRules = nil, true
	c.refs(x, path)
	c.inRules = false
}

// ruleFunctions are the intrinsic functions only rules may use.
var ruleFunctions = map[string]bool{"Fn::Contains": true, "Fn::EachMemberEquals": true, "Fn::EachMemberIn": true,
	"Fn::RefAll": true, "Fn::ValueOf": true, "Fn::ValueOfAll": true}

// ref checks a Ref target: a resource, a parameter or a pseudo-parameter.
func (c *checker) ref(target, path string) {
	if _, ok := c.params[target]; ok && c.inRules {
		c.used["param:"+target] = true
		return
	}
	if c.inRules {
		c.add(path, "Ref %q in a rule: rules can name only parameters", target)
		return
	}
	if _, ok := c.res[target]; ok {
		c.mayExist(target, path)
		return
	}
	if _, ok := c.params[target]; ok {
		c.used["param:"+target] = true
		return
	}
	if pseudo[target] {
		return
	}
	c.add(path, "Ref %q names no resource, parameter or pseudo-parameter", target)
}

// getAtt checks that res exists and attr is one of its type's read-only
// properties.
func (c *checker) getAtt(res, attr, path string) {
	r, ok := c.res[res]
	if !ok {
		c.add(path, "Fn::GetAtt %q names no resource", res)
		return
	}
	c.mayExist(res, path)
	typ, _ := r["Type"].(string)
	if attrs, ok := c.unschemed[typ]; ok {
		for _, a := range attrs {
			if a == attr {
				return
			}
		}
		c.add(path, "Fn::GetAtt %s.%s: %s has no attribute %s", res, attr, typ, attr)
		return
	}
	p, ok := c.s.byType[typ]
	if !ok {
		return // reported on the resource
	}
	if !p.readOnly[attr] {
		c.add(path, "Fn::GetAtt %s.%s: %s has no attribute %s (its readOnlyProperties: %s)", res, attr, typ, attr, strings.Join(keys(p.readOnly), ", "))
	}
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// refs walks x for intrinsic functions and checks what they name.
func (c *checker) refs(x any, path string) {
	switch v := x.(type) {
	case []any:
		for i, e := range v {
			c.refs(e, fmt.Sprintf("%s/%d", path, i))
		}
	case map[string]any:
		if name, arg, ok := intrinsic(v); ok {
			c.function(name, arg, path)
			return
		}
		for k, e := range v {
			if k == "Condition" {
				if s, ok := e.(string); ok && strings.HasPrefix(path, "Conditions/") {
					c.condition(s, path+"/Condition")
					continue
				}
			}
			c.refs(e, path+"/"+k)
		}
	}
}

func (c *checker) function(name string, arg any, path string) {
	p := path + "/" + name
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			c.add(p, "Ref takes a name")
			return
		}
		c.ref(s, p)
	case "Fn::GetAtt":
		var res, attr string
		switch a := arg.(type) {
		case string:
			res, attr, _ = strings.Cut(a, ".")
		case []any:
			if len(a) == 2 {
				res, _ = a[0].(string)
				attr, _ = a[1].(string)
			}
		}
		if res == "" || attr == "" {
			c.add(p, "Fn::GetAtt takes [resource, attribute]")
			return
		}
		c.getAtt(res, attr, p)
	case "Fn::Sub":
		var str string
		locals := map[string]bool{}
		switch a := arg.(type) {
		case string:
			str = a
		case []any:
			if len(a) == 2 {
				str, _ = a[0].(string)
				vars, _ := a[1].(map[string]any)
				for k, e := range vars {
					locals[k] = true
					c.refs(e, p+"/"+k)
				}
			}
		}
		for _, m := range subVar.FindAllStringSubmatch(str, -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "!") || locals[ref] {
				continue
			}
			if res, attr, ok := strings.Cut(ref, "."); ok && !pseudo[ref] {
				c.getAtt(res, attr, p)
			} else {
				c.ref(ref, p)
			}
		}
	case "Fn::If":
		a, ok := arg.([]any)
		if !ok || len(a) != 3 {
			c.add(p, "Fn::If takes [condition, value if true, value if false]")
			return
		}
		cn, _ := a[0].(string)
		c.condition(cn, p)
		saved := c.under
		c.under = append(append([]string(nil), saved...), cn)
		c.refs(a[1], p+"/1")
		c.under = saved
		c.refs(a[2], p+"/2")
	case "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not",
		"Fn::GetAZs", "Fn::Base64", "Fn::Cidr", "Fn::ImportValue", "Fn::FindInMap", "Fn::ToJsonString", "Fn::Length":
		c.refs(arg, p)
	default:
		if ruleFunctions[name] {
			if !c.inRules {
				c.add(p, "%s is allowed only in Rules", name)
			}
			c.refs(arg, p)
			return
		}
		c.add(p, "unknown intrinsic function %s", name)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
