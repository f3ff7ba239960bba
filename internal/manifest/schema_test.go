package manifest

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// obj is a JSON object of the schema, with helpers that fail the test on
// a missing or mistyped member.
type obj map[string]any

func (o obj) obj(t *testing.T, path ...string) obj {
	t.Helper()
	cur := o
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			t.Fatalf("schema: %v is not an object", path)
		}
		cur = next
	}
	return cur
}

func (o obj) keys(t *testing.T) []string {
	t.Helper()
	return slices.Sorted(maps.Keys(o.obj(t, "properties")))
}

func loadSchema(t *testing.T) obj {
	t.Helper()
	raw := JSONSchema()
	if !json.Valid(raw) {
		t.Fatal("JSONSchema() is not valid JSON")
	}
	var s obj
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// TestSchemaMatchesParser keeps slipway.schema.json and Parse in step: same
// keys at every level, same enums, defaults and limits.
func TestSchemaMatchesParser(t *testing.T) {
	s := loadSchema(t)
	if got := s["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", got)
	}

	health := findObjectBranch(t, s.obj(t, "properties", "healthcheck"))
	stage := s.obj(t, "properties", "stages", "items")
	levels := []struct {
		name   string
		schema obj
		parser []string
	}{
		{"top level", s, stackKeys},
		{"healthcheck", health, healthKeys},
		{"build", s.obj(t, "properties", "build"), buildKeys},
		{"stages[]", stage, stageKeys},
	}
	for _, l := range levels {
		if got, want := l.schema.keys(t), sorted(l.parser); !slices.Equal(got, want) {
			t.Errorf("%s: schema keys %v, parser keys %v", l.name, got, want)
		}
		if l.schema["additionalProperties"] != false {
			t.Errorf("%s: schema must set additionalProperties: false, as the parser rejects unknown keys", l.name)
		}
	}
	if got := s["required"]; !equalJSON(got, []string{"name"}) {
		t.Errorf("required = %v, want [name]", got)
	}
	if got := stage["required"]; !equalJSON(got, []string{"name"}) {
		t.Errorf("stages[].required = %v, want [name]", got)
	}

	props := s.obj(t, "properties")
	arch := obj(props).obj(t, "architecture")
	if !equalJSON(arch["enum"], architectures) || arch["default"] != string(core.ArchContainer) {
		t.Errorf("architecture enum/default = %v/%v, want %v/%s", arch["enum"], arch["default"], architectures, core.ArchContainer)
	}
	port := obj(props).obj(t, "port")
	if port["default"] != float64(core.DefaultPort) || port["minimum"] != float64(MinPort) || port["maximum"] != float64(MaxPort) {
		t.Errorf("port default/min/max = %v/%v/%v", port["default"], port["minimum"], port["maximum"])
	}
	if got := obj(props).obj(t, "build", "properties", "dockerfile")["default"]; got != core.DefaultDockerfile {
		t.Errorf("dockerfile default = %v, want %s", got, core.DefaultDockerfile)
	}
	if got := obj(props).obj(t, "stages")["default"]; !equalJSON(got, []map[string]string{{"name": core.DefaultStage}}) {
		t.Errorf("stages default = %v", got)
	}
	if got := s.obj(t, "$defs", "healthPath")["default"]; got != core.DefaultHealthPath {
		t.Errorf("health path default = %v, want %s", got, core.DefaultHealthPath)
	}
	timeout := health.obj(t, "properties", "start_timeout")
	if d, err := time.ParseDuration(timeout["default"].(string)); err != nil || d != core.DefaultStartTimeout {
		t.Errorf("start_timeout default = %v, want %s", timeout["default"], core.DefaultStartTimeout)
	}

	if got := stage.obj(t, "properties", "env", "propertyNames")["pattern"]; got != envNameRE.String() {
		t.Errorf("env name pattern = %v, want %s", got, envNameRE)
	}
	checkNamePattern(t, "stack", obj(props).obj(t, "name"), core.MaxStackNameLen, core.ValidateStackName)
	checkNamePattern(t, "stage", stage.obj(t, "properties", "name"), core.MaxStageNameLen, core.ValidateStageName)

	durRE := regexp.MustCompile(timeout["pattern"].(string))
	for _, d := range []string{"1s", "30s", "1m30s", "2.5m", "10m"} {
		if !durRE.MatchString(d) {
			t.Errorf("start_timeout pattern rejects %q, which the parser accepts", d)
		}
	}
	for _, d := range []string{"30", "s", "thirty seconds", ""} {
		if durRE.MatchString(d) {
			t.Errorf("start_timeout pattern accepts %q, which the parser rejects", d)
		}
	}
}

// TestSchemaDescribesEveryKey: editors show descriptions on hover.
func TestSchemaDescribesEveryKey(t *testing.T) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k, p := range props {
					p := p.(map[string]any)
					_, hasDesc := p["description"]
					_, hasRef := p["$ref"]
					if !hasDesc && !hasRef {
						t.Errorf("%s.%s has no description", path, k)
					}
				}
			}
			for k, x := range v {
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("$", map[string]any(loadSchema(t)))
}

// findObjectBranch returns the object branch of healthcheck's oneOf.
func findObjectBranch(t *testing.T, h obj) obj {
	t.Helper()
	branches, _ := h["oneOf"].([]any)
	for _, b := range branches {
		if m, ok := b.(map[string]any); ok && m["type"] == "object" {
			return m
		}
	}
	t.Fatal("healthcheck: no object branch in oneOf")
	return nil
}

func checkNamePattern(t *testing.T, kind string, s obj, maxLen int, validate func(string) error) {
	t.Helper()
	if s["maxLength"] != float64(maxLen) {
		t.Errorf("%s name maxLength = %v, want %d", kind, s["maxLength"], maxLen)
	}
	re := regexp.MustCompile(s["pattern"].(string))
	for _, name := range []string{"a", "my-app", "a1", "prod", "x-y-z", "", "-a", "a-", "A", "my_app", "1a", "a b", "é"} {
		if got, want := re.MatchString(name), validate(name) == nil; got != want {
			t.Errorf("%s name %q: schema says %v, core says %v", kind, name, got, want)
		}
	}
}

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
