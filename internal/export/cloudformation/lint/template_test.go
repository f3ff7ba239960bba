package lint

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func schemas(t *testing.T) *Schemas {
	t.Helper()
	s, err := LoadDir(filepath.Join("..", "testdata", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// base is a valid template the cases break one way each.
func base() map[string]any {
	return map[string]any{
		"Parameters": map[string]any{"Retention": map[string]any{"Type": "Number", "Default": 90}},
		"Conditions": map[string]any{"Long": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Retention"}, 90}}},
		"Resources": map[string]any{
			"Logs": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{
				"LogGroupName":    map[string]any{"Fn::Sub": "/app/${AWS::StackName}"},
				"RetentionInDays": map[string]any{"Fn::If": []any{"Long", 90, 30}},
			}},
			"Repo": map[string]any{"Type": "AWS::ECR::Repository", "DependsOn": "Logs", "Properties": map[string]any{
				"RepositoryName":             "shop",
				"ImageScanningConfiguration": map[string]any{"ScanOnPush": true},
				"Tags":                       []any{map[string]any{"Key": "a", "Value": map[string]any{"Fn::GetAtt": []any{"Logs", "Arn"}}}},
			}},
		},
		"Outputs": map[string]any{"Uri": map[string]any{"Value": map[string]any{"Fn::GetAtt": "Repo.RepositoryUri"}}},
	}
}

func props(t map[string]any, res string) map[string]any {
	return t["Resources"].(map[string]any)[res].(map[string]any)["Properties"].(map[string]any)
}

func TestCheck(t *testing.T) {
	s := schemas(t)
	cases := []struct {
		name   string
		break_ func(map[string]any)
		want   string // substring of a problem; "" for a valid template
	}{
		{"valid", func(map[string]any) {}, ""},
		{"unknown property", func(m map[string]any) { props(m, "Repo")["Colour"] = "red" }, "property Colour is not allowed"},
		{"wrong type", func(m map[string]any) { props(m, "Logs")["RetentionInDays"] = "90" }, `"90" is not of type integer`},
		{"not in enum", func(m map[string]any) { props(m, "Logs")["RetentionInDays"] = 91 }, "91 is not one of"},
		{"pattern", func(m map[string]any) { props(m, "Logs")["LogGroupName"] = "/app/a b" }, "does not match"},
		{"nested unknown property", func(m map[string]any) {
			props(m, "Repo")["ImageScanningConfiguration"] = map[string]any{"ScanOnPsh": true}
		}, "ImageScanningConfiguration: property ScanOnPsh is not allowed"},
		{"missing required", func(m map[string]any) {
			props(m, "Repo")["Tags"] = []any{map[string]any{"Key": "a"}}
		}, "Tags/0: required property Value is missing"},
		{"intrinsic where an object is expected", func(m map[string]any) {
			props(m, "Repo")["ImageScanningConfiguration"] = map[string]any{"Ref": "Retention"}
		}, "Ref where an object is expected"},
		{"bad Fn::If branch", func(m map[string]any) {
			props(m, "Logs")["RetentionInDays"] = map[string]any{"Fn::If": []any{"Long", 90, 31}}
		}, "Fn::If[2]: 31 is not one of"},
		{"Ref to nothing", func(m map[string]any) {
			props(m, "Repo")["RepositoryName"] = map[string]any{"Ref": "Nope"}
		}, `Ref "Nope" names no resource, parameter or pseudo-parameter`},
		{"GetAtt of a missing resource", func(m map[string]any) {
			m["Outputs"].(map[string]any)["Uri"] = map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"Repository", "Arn"}}}
		}, `Fn::GetAtt "Repository" names no resource`},
		{"GetAtt of a missing attribute", func(m map[string]any) {
			m["Outputs"].(map[string]any)["Uri"] = map[string]any{"Value": map[string]any{"Fn::GetAtt": "Repo.Url"}}
		}, "AWS::ECR::Repository has no attribute Url"},
		{"Sub of a missing attribute", func(m map[string]any) {
			props(m, "Logs")["LogGroupName"] = map[string]any{"Fn::Sub": "/app/${Repo.Name}"}
		}, "has no attribute Name"},
		{"Sub of a missing name", func(m map[string]any) {
			props(m, "Logs")["LogGroupName"] = map[string]any{"Fn::Sub": "/app/${Stage}"}
		}, `Ref "Stage" names no resource`},
		{"Sub with its own variable", func(m map[string]any) {
			props(m, "Logs")["LogGroupName"] = map[string]any{"Fn::Sub": []any{"/app/${Stage}${!Literal}", map[string]any{"Stage": "dev"}}}
		}, ""},
		{"unknown condition in Fn::If", func(m map[string]any) {
			props(m, "Logs")["RetentionInDays"] = map[string]any{"Fn::If": []any{"Short", 90, 30}}
		}, `condition "Short" is not defined`},
		{"unknown resource condition", func(m map[string]any) {
			m["Resources"].(map[string]any)["Repo"].(map[string]any)["Condition"] = "Short"
		}, `condition "Short" is not defined`},
		{"DependsOn nothing", func(m map[string]any) {
			m["Resources"].(map[string]any)["Repo"].(map[string]any)["DependsOn"] = []any{"Logs", "Bucket"}
		}, `"Bucket" is not a resource`},
		{"unknown type", func(m map[string]any) {
			m["Resources"].(map[string]any)["Repo"].(map[string]any)["Type"] = "AWS::ECR::Repo"
		}, `no provider schema for type "AWS::ECR::Repo"`},
		{"unknown function", func(m map[string]any) {
			props(m, "Repo")["RepositoryName"] = map[string]any{"Fn::Concat": []any{"a", "b"}}
		}, "unknown intrinsic function Fn::Concat"},
		{"Ref to a conditional resource outside its condition", func(m map[string]any) {
			m["Resources"].(map[string]any)["Logs"].(map[string]any)["Condition"] = "Long"
		}, "Logs exists only under condition Long"},
		{"DependsOn a conditional resource outside its condition", func(m map[string]any) {
			m["Resources"].(map[string]any)["Logs"].(map[string]any)["Condition"] = "Long"
			props(m, "Repo")["Tags"] = []any{map[string]any{"Key": "a", "Value": map[string]any{"Fn::If": []any{"Long", map[string]any{"Fn::GetAtt": "Logs.Arn"}, "none"}}}}
		}, "Resources/Repo/DependsOn: Logs exists only under condition Long"},
		{"conditional resource under its condition", func(m map[string]any) {
			res := m["Resources"].(map[string]any)
			res["Logs"].(map[string]any)["Condition"] = "Long"
			res["Repo"].(map[string]any)["Condition"] = "Long"
			m["Outputs"].(map[string]any)["Uri"].(map[string]any)["Condition"] = "Long"
		}, ""},
		{"unused parameter", func(m map[string]any) {
			m["Parameters"].(map[string]any)["Stage"] = map[string]any{"Type": "String"}
		}, "parameter Stage is never used"},
		{"unused condition", func(m map[string]any) {
			m["Conditions"].(map[string]any)["Short"] = map[string]any{"Fn::Not": []any{map[string]any{"Condition": "Long"}}}
		}, "condition Short is never used"},
		{"misspelt resource attribute", func(m map[string]any) {
			m["Resources"].(map[string]any)["Repo"].(map[string]any)["Condtion"] = "Long"
		}, "Condtion is not a resource attribute"},
		{"resource without a type", func(m map[string]any) {
			delete(m["Resources"].(map[string]any)["Repo"].(map[string]any), "Type")
		}, "Resources/Repo: a resource needs a Type"},
		{"bad deletion policy", func(m map[string]any) {
			m["Resources"].(map[string]any)["Repo"].(map[string]any)["DeletionPolicy"] = "Keep"
		}, `Resources/Repo/DeletionPolicy: "Keep" is not one of`},
		{"unknown section", func(m map[string]any) { m["Output"] = map[string]any{} }, "Output is not a template section"},
		{"parameter without a type", func(m map[string]any) {
			m["Parameters"].(map[string]any)["Retention"] = map[string]any{"Default": 90}
		}, "Parameters/Retention: a parameter needs a Type"},
		{"valid rule", func(m map[string]any) {
			m["Rules"] = map[string]any{"Long": map[string]any{
				"RuleCondition": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Retention"}, 90}},
				"Assertions": []any{map[string]any{"Assert": map[string]any{"Fn::Not": []any{map[string]any{"Fn::EachMemberEquals": []any{map[string]any{"Ref": "Retention"}, ""}}}},
					"AssertDescription": "x"}},
			}}
		}, ""},
		{"rule naming a resource", func(m map[string]any) {
			m["Rules"] = map[string]any{"R": map[string]any{"Assertions": []any{map[string]any{"Assert": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Repo"}, ""}}}}}}
		}, `Ref "Repo" in a rule: rules can name only parameters`},
		{"rule naming nothing", func(m map[string]any) {
			m["Rules"] = map[string]any{"R": map[string]any{"Assertions": []any{map[string]any{"Assert": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Nope"}, ""}}}}}}
		}, `Ref "Nope" in a rule`},
		{"rule without assertions", func(m map[string]any) {
			m["Rules"] = map[string]any{"R": map[string]any{"RuleCondition": map[string]any{"Fn::Equals": []any{"a", "a"}}}}
		}, "Rules/R: a rule needs Assertions"},
		{"assertion without Assert", func(m map[string]any) {
			m["Rules"] = map[string]any{"R": map[string]any{"Assertions": []any{map[string]any{"AssertDescription": "x"}}}}
		}, "Rules/R/Assertions/0: an assertion needs an Assert"},
		{"rule function outside Rules", func(m map[string]any) {
			props(m, "Repo")["RepositoryName"] = map[string]any{"Fn::ValueOf": []any{"Retention", "Tag"}}
		}, "Fn::ValueOf is allowed only in Rules"},
		{"output without value", func(m map[string]any) {
			m["Outputs"].(map[string]any)["Uri"] = map[string]any{"Description": "x"}
		}, "an output needs a Value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl := base()
			c.break_(tmpl)
			data, err := json.Marshal(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			problems := s.Check(data, nil)
			if c.want == "" {
				if len(problems) > 0 {
					t.Fatalf("want no problems, got:\n%s", strings.Join(problems, "\n"))
				}
				return
			}
			for _, p := range problems {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Fatalf("want a problem with %q, got:\n%s", c.want, strings.Join(problems, "\n"))
		})
	}
}

// TestKeywords covers the keywords the provider schemas use beside
// properties: oneOf, anyOf, requiredXor, dependentExcluded, minItems.
func TestKeywords(t *testing.T) {
	root := map[string]any{
		"definitions": map[string]any{"Port": map[string]any{"type": "integer", "minimum": 1, "maximum": 65535}},
		"type":        "object",
		"properties": map[string]any{
			"A":     map[string]any{"type": "string"},
			"B":     map[string]any{"type": "string"},
			"Port":  map[string]any{"$ref": "#/definitions/Port"},
			"List":  map[string]any{"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true, "items": map[string]any{"type": "string"}},
			"Other": map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}},
		},
		"additionalProperties": false,
		"requiredXor":          []any{"A", "B"},
		"dependentExcluded":    map[string]any{"Port": []any{"B"}},
	}
	root = roundTrip(t, root).(map[string]any) // numbers as JSON decodes them
	for _, c := range []struct {
		in   string
		want string
	}{
		{`{"A":"x"}`, ""},
		{`{"A":"x","B":"y"}`, "exactly one of A, B is required, got 2"},
		{`{}`, "exactly one of A, B is required, got 0"},
		{`{"B":"y","Port":80}`, "Port excludes B"},
		{`{"A":"x","Port":0}`, "less than the minimum"},
		{`{"A":"x","Port":{"Ref":"P"}}`, ""},
		{`{"A":"x","List":[]}`, "fewer than 1"},
		{`{"A":"x","List":["a","b","c"]}`, "more than 2"},
		{`{"A":"x","List":["a","a"]}`, "must be unique"},
		{`{"A":"x","List":{"Fn::Split":[",","a,b"]}}`, ""},
		{`{"A":"x","Other":1.5}`, "matches 0 of oneOf"},
		{`{"A":"x","Other":3}`, ""},
	} {
		var x any
		if err := json.Unmarshal([]byte(c.in), &x); err != nil {
			t.Fatal(err)
		}
		v := &validator{root: root}
		v.validate(root, x, "P")
		got := strings.Join(v.problems, "\n")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.in, got, c.want)
		}
	}
}

func roundTrip(t *testing.T, x any) any {
	t.Helper()
	data, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadDirErrors(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Fatal("want an error for a directory without schemas")
	}
}
