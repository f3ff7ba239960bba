package manifest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/schedule"
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
	scale := s.obj(t, "$defs", "scale")
	serverless := s.obj(t, "$defs", "serverless")
	endpoint := s.obj(t, "$defs", "endpoint")
	gateway := endpoint.obj(t, "properties", "gateway")
	levels := []struct {
		name   string
		schema obj
		parser []string
	}{
		{"top level", s, stackKeys},
		{"healthcheck", health, healthKeys},
		{"build", s.obj(t, "properties", "build"), buildKeys},
		{"stages[]", stage, stageKeys},
		{"scale", scale, scaleKeys},
		{"scale.health", scale.obj(t, "properties", "health"), scaleHealthKeys},
		{"stages[].network", stage.obj(t, "properties", "network"), networkKeys},
		{"serverless", serverless, serverlessKeys},
		{"serverless.schedules[]", serverless.obj(t, "properties", "schedules", "items"), scheduleKeys},
		{"endpoint", endpoint, endpointKeys},
		{"endpoint.gateway", gateway, gatewayKeys},
		{"endpoint.gateway.usage_plans.*", s.obj(t, "$defs", "usagePlan"), usagePlanKeys},
		{"endpoint.gateway.usage_plans.*.quota", s.obj(t, "$defs", "usagePlan", "properties", "quota"), quotaKeys},
		{"endpoint.gateway.throttle", s.obj(t, "$defs", "throttle"), throttleKeys},
		{"endpoint.gateway.jwt", gateway.obj(t, "properties", "jwt"), jwtKeys},
		{"endpoint.gateway.cors", gateway.obj(t, "properties", "cors"), corsKeys},
		{"endpoint.balancer", endpoint.obj(t, "properties", "balancer"), balancerKeys},
		{"stages[].routes[]", stage.obj(t, "properties", "routes", "items"), routeKeys},
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

	if got := stage.obj(t, "properties", "approval")["default"]; got != (core.StageSpec{}).Approval {
		t.Errorf("approval default = %v, want %v", got, (core.StageSpec{}).Approval)
	}
	if got := stage.obj(t, "properties", "env", "propertyNames")["pattern"]; got != envNameRE.String() {
		t.Errorf("env name pattern = %v, want %s", got, envNameRE)
	}
	checkNamePattern(t, "stack", obj(props).obj(t, "name"), core.MaxStackNameLen, core.ValidateStackName)
	checkNamePattern(t, "stage", stage.obj(t, "properties", "name"), core.MaxStageNameLen, core.ValidateStageName)

	checkScaleSchema(t, s)
	checkServerlessSchema(t, s)
	checkEndpointSchema(t, s)

	durRE := regexp.MustCompile(timeout["pattern"].(string))
	for _, d := range []string{"1s", "30s", "1m30s", "2.5m", "10m", "0", "0s", "500ms"} {
		if !durRE.MatchString(d) {
			t.Errorf("start_timeout pattern rejects %q, which the parser accepts", d)
		}
	}
	for _, d := range []string{"30", "s", "thirty seconds", "", "00", "1h0"} {
		if durRE.MatchString(d) {
			t.Errorf("start_timeout pattern accepts %q, which the parser rejects", d)
		}
	}
}

// checkScaleSchema checks the scale and network schemas against core: the
// defaults of core.DefaultScale, the cpu enum of core.CPUs, the memory of
// core.MemoryFor, and integer limits probed with core.ScaleSpec.Problems.
func checkScaleSchema(t *testing.T, s obj) {
	t.Helper()
	for _, at := range [][]string{{"properties", "scale"}, {"properties", "stages", "items", "properties", "scale"}} {
		if ref := s.obj(t, at...)["$ref"]; ref != "#/$defs/scale" {
			t.Errorf("%v: $ref = %v, want #/$defs/scale", at, ref)
		}
	}
	scale := s.obj(t, "$defs", "scale")
	props := scale.obj(t, "properties")
	field := func(name string) obj {
		if h, ok := strings.CutPrefix(name, "health."); ok {
			return props.obj(t, "health", "properties", h)
		}
		return props.obj(t, name)
	}

	// Defaults: every key but health.path ("" = the stack's) has one, equal to core's.
	var defaults map[string]any
	raw, _ := json.Marshal(core.DefaultScale())
	if err := json.Unmarshal(raw, &defaults); err != nil {
		t.Fatal(err)
	}
	health := defaults["health"].(map[string]any)
	delete(defaults, "health")
	for k, v := range health {
		defaults["health."+k] = v
	}
	for name, want := range defaults {
		got, has := field(name)["default"]
		if name == "health.path" {
			if has || want != "" {
				t.Errorf("health.path: default %v, core %v; want none in the schema and \"\" in core", got, want)
			}
			continue
		}
		if ws, isStr := want.(string); isStr { // a duration: "5m" in the schema is "5m0s" in JSON
			gd, err1 := time.ParseDuration(fmt.Sprint(got))
			wd, err2 := time.ParseDuration(ws)
			if err1 != nil || err2 != nil || gd != wd {
				t.Errorf("%s: default %v, core %v", name, got, want)
			}
			if ref := field(name)["$ref"]; ref != "#/$defs/duration" {
				t.Errorf("%s: $ref = %v, want #/$defs/duration", name, ref)
			}
			continue
		}
		if !equalJSON(got, want) {
			t.Errorf("%s: default %v, core %v", name, got, want)
		}
	}

	if got := field("cpu")["enum"]; !equalJSON(got, core.CPUs) {
		t.Errorf("cpu enum = %v, core.CPUs = %v", got, core.CPUs)
	}
	lo, hi := math.MaxInt, 0
	memFor := map[float64][]int{}
	for _, c := range core.CPUs {
		m := core.MemoryFor(c)
		lo, hi = min(lo, m[0]), max(hi, m[len(m)-1])
		memFor[c] = m
	}
	mem := field("memory")
	if mem["minimum"] != float64(lo) || mem["maximum"] != float64(hi) {
		t.Errorf("memory minimum/maximum = %v/%v, want %d/%d", mem["minimum"], mem["maximum"], lo, hi)
	}
	pairs := map[float64][]int{}
	for _, b := range scale["allOf"].([]any) {
		rule := obj(b.(map[string]any))
		c := rule.obj(t, "if", "properties", "cpu")["const"].(float64)
		var m []int
		for _, x := range rule.obj(t, "then", "properties", "memory")["enum"].([]any) {
			m = append(m, int(x.(float64)))
		}
		pairs[c] = m
	}
	if !maps.EqualFunc(pairs, memFor, slices.Equal) {
		t.Errorf("memory per cpu in the schema %v, core.MemoryFor %v", pairs, memFor)
	}

	// Integer limits: the schema's minimum and maximum are exactly the
	// values core accepts.
	ints := map[string]func(*core.ScaleSpec, int){
		"min":              func(s *core.ScaleSpec, v int) { s.Min = v },
		"max":              func(s *core.ScaleSpec, v int) { s.Max = v },
		"cpu_target":       func(s *core.ScaleSpec, v int) { s.CPUTarget = v },
		"health.healthy":   func(s *core.ScaleSpec, v int) { s.Health.Healthy = v },
		"health.unhealthy": func(s *core.ScaleSpec, v int) { s.Health.Unhealthy = v },
	}
	rejects := func(name string, v int) bool {
		spec := core.DefaultScale()
		ints[name](&spec, v)
		return slices.ContainsFunc(spec.Problems(), func(p core.ScaleProblem) bool { return p.Field == name && p.Related == "" })
	}
	for name := range ints {
		f := field(name)
		if f["type"] != "integer" {
			t.Errorf("%s: type %v, want integer", name, f["type"])
			continue
		}
		lo, hi := int(f["minimum"].(float64)), int(f["maximum"].(float64))
		if rejects(name, lo) || rejects(name, hi) || !rejects(name, lo-1) || !rejects(name, hi+1) {
			t.Errorf("%s: schema allows %d-%d, core disagrees", name, lo, hi)
		}
	}

	if got, want := field("health.path")["pattern"], s.obj(t, "$defs", "healthPath")["pattern"]; got != want {
		t.Errorf("scale.health.path pattern = %v, want the healthcheck path's %v", got, want)
	}
	if got, want := s.obj(t, "$defs", "duration")["pattern"], findObjectBranch(t, s.obj(t, "properties", "healthcheck")).obj(t, "properties", "start_timeout")["pattern"]; got != want {
		t.Errorf("duration pattern = %v, want start_timeout's %v", got, want)
	}
	network := s.obj(t, "properties", "stages", "items", "properties", "network", "properties")
	if got := obj(network).obj(t, "attach")["pattern"]; got != networkNameRE.String() {
		t.Errorf("network.attach pattern = %v, want %s", got, networkNameRE)
	}
	if got := obj(network).obj(t, "egress")["default"]; got != (core.NetworkSpec{}).EgressAllowed() {
		t.Errorf("network.egress default = %v, want %v", got, (core.NetworkSpec{}).EgressAllowed())
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
				if k == "if" || k == "then" {
					continue // conditions on keys declared (and described) elsewhere
				}
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

// checkServerlessSchema checks the serverless schema against the parser and
// core: where it is used, the top level's ban on schedules, the defaults of
// core.DefaultServerless, integer limits probed with
// core.ServerlessSpec.Problems, enums, and the schedules' request defaults.
func checkServerlessSchema(t *testing.T, s obj) {
	t.Helper()
	top := s.obj(t, "properties", "serverless")
	for name, o := range map[string]obj{"serverless": top, "stages[].serverless": s.obj(t, "properties", "stages", "items", "properties", "serverless")} {
		if ref := o["$ref"]; ref != "#/$defs/serverless" {
			t.Errorf("%s: $ref = %v, want #/$defs/serverless", name, ref)
		}
	}
	// The top level takes the block's keys but those it forbids.
	banned := top.keys(t)
	for _, k := range banned {
		if _, forbids := top.obj(t, "properties", k)["not"]; !forbids {
			t.Errorf("top-level serverless.%s: want {\"not\": {}}, as the parser refuses it there", k)
		}
	}
	allowed := slices.DeleteFunc(sorted(serverlessKeys), func(k string) bool { return slices.Contains(banned, k) })
	if want := sorted(serverlessTopKeys); !slices.Equal(allowed, want) {
		t.Errorf("top-level serverless: schema allows %v, parser %v", allowed, want)
	}

	serverless := s.obj(t, "$defs", "serverless")
	props := serverless.obj(t, "properties")
	var defaults map[string]any
	raw, _ := json.Marshal(core.DefaultServerless())
	if err := json.Unmarshal(raw, &defaults); err != nil {
		t.Fatal(err)
	}
	for name, want := range defaults {
		f := props.obj(t, name)
		got := f["default"]
		if f["$ref"] == "#/$defs/duration" {
			gd, err1 := time.ParseDuration(fmt.Sprint(got))
			wd, err2 := time.ParseDuration(fmt.Sprint(want))
			if err1 != nil || err2 != nil || gd != wd {
				t.Errorf("serverless.%s: default %v, core %v", name, got, want)
			}
			continue
		}
		if !equalJSON(got, want) {
			t.Errorf("serverless.%s: default %v, core %v", name, got, want)
		}
	}
	for _, name := range []string{"timeout", "idle", "queue_timeout"} {
		if ref := props.obj(t, name)["$ref"]; ref != "#/$defs/duration" {
			t.Errorf("serverless.%s: $ref = %v, want #/$defs/duration", name, ref)
		}
	}

	ints := map[string]func(*core.ServerlessSpec, int){
		"memory":        func(s *core.ServerlessSpec, v int) { s.MemoryMB = v },
		"concurrency":   func(s *core.ServerlessSpec, v int) { s.Concurrency = v },
		"max_instances": func(s *core.ServerlessSpec, v int) { s.MaxInstances = v },
		"min_instances": func(s *core.ServerlessSpec, v int) { s.MinInstances = v },
		"queue":         func(s *core.ServerlessSpec, v int) { s.Queue = v },
	}
	rejects := func(name string, v int) bool {
		spec := core.DefaultServerless()
		ints[name](&spec, v)
		return slices.ContainsFunc(spec.Problems(), func(p core.ScaleProblem) bool { return p.Field == name && p.Related == "" })
	}
	for name := range ints {
		f := props.obj(t, name)
		if f["type"] != "integer" {
			t.Errorf("serverless.%s: type %v, want integer", name, f["type"])
			continue
		}
		lo, hi := int(f["minimum"].(float64)), int(f["maximum"].(float64))
		if rejects(name, lo) || rejects(name, hi) || !rejects(name, lo-1) || !rejects(name, hi+1) {
			t.Errorf("serverless.%s: schema allows %d-%d, core disagrees", name, lo, hi)
		}
	}

	if got := props.obj(t, "handler")["enum"]; !equalJSON(got, handlers) {
		t.Errorf("serverless.handler enum = %v, parser %v", got, handlers)
	}
	// payload_version: the versions as strings, and the unquoted YAML
	// numbers the parser takes for them.
	var payloads []string
	for _, v := range props.obj(t, "payload_version")["enum"].([]any) {
		if str, ok := v.(string); ok {
			payloads = append(payloads, str)
		}
	}
	if !slices.Equal(payloads, payloadVersions) {
		t.Errorf("serverless.payload_version enum strings = %v, parser %v", payloads, payloadVersions)
	}
	for _, p := range payloadVersions {
		spec := core.DefaultServerless()
		spec.Payload = p
		if len(spec.Problems()) > 0 {
			t.Errorf("core refuses payload_version %q", p)
		}
	}
	lambda := core.DefaultServerless()
	lambda.Handler, lambda.Concurrency = core.HandlerLambda, 2
	rule := serverless["allOf"].([]any)[0].(map[string]any)
	if len(lambda.Problems()) == 0 || obj(rule).obj(t, "then", "properties", "concurrency")["const"] != float64(1) {
		t.Errorf("a lambda handler's concurrency: schema rule %v, core problems %v", rule, lambda.Problems())
	}

	items := props.obj(t, "schedules", "items")
	if got := items["required"]; !equalJSON(got, []string{"expression"}) {
		t.Errorf("schedules[].required = %v, want [expression]", got)
	}
	sched := items.obj(t, "properties")
	method := sched.obj(t, "method")
	if !equalJSON(method["enum"], scheduleMethods) || method["default"] != DefaultScheduleMethod {
		t.Errorf("schedules[].method enum/default = %v/%v, parser %v/%s", method["enum"], method["default"], scheduleMethods, DefaultScheduleMethod)
	}
	path := sched.obj(t, "path")
	if path["default"] != DefaultSchedulePath || path["pattern"] != s.obj(t, "$defs", "healthPath")["pattern"] {
		t.Errorf("schedules[].path default/pattern = %v/%v", path["default"], path["pattern"])
	}
	exprRE := regexp.MustCompile(sched.obj(t, "expression")["pattern"].(string))
	for _, x := range []string{"rate(5 minutes)", "rate(1 hour)", "cron(0 12 * * ? *)", "every 5 minutes", "rate 5 minutes", "at(2026-01-01T00:00:00)"} {
		if _, err := schedule.Parse(x); err == nil && !exprRE.MatchString(x) {
			t.Errorf("schedules[].expression pattern rejects %q, which the parser accepts", x)
		}
	}
}
