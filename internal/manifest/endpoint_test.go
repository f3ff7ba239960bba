package manifest

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestEndpointZeroWithoutBlock: a file without an endpoint block leaves
// StageSpec.Endpoint zero (the default, for consumers and for specs stored
// before endpoints existed), in both architectures; with one anywhere,
// every stage gets a complete spec.
func TestEndpointZeroWithoutBlock(t *testing.T) {
	for _, src := range []string{
		"name: a\n",
		"name: a\narchitecture: serverless\nstages:\n  - name: dev\n  - name: prod\n",
	} {
		spec, err := Parse("slipway.yml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		for _, st := range spec.Stages {
			if !reflect.DeepEqual(st.Endpoint, core.EndpointSpec{}) || st.Routes != nil {
				t.Errorf("%q: stage %s endpoint = %+v, routes %v; want zero", src, st.Name, st.Endpoint, st.Routes)
			}
		}
	}
	src := "name: a\nendpoint: {}\nstages:\n  - name: dev\n  - name: prod\n    endpoint: {gateway: {throttle: {}}}\n"
	spec, err := Parse("slipway.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range spec.Stages {
		if !reflect.DeepEqual(st.Endpoint, core.DefaultEndpoint()) {
			t.Errorf("stage %s endpoint = %+v, want the defaults", st.Name, st.Endpoint)
		}
	}
}

// TestEndpointStagesDoNotShare: stages inheriting the same plans, jwt and
// cors get values of their own, so that a consumer changing one stage's
// cannot change another's.
func TestEndpointStagesDoNotShare(t *testing.T) {
	src := `name: a
endpoint:
  gateway:
    usage_plans: {gold: {rate: 1}}
    jwt: {issuer: "https://i.example.com/", audiences: [x], jwks_url: "https://i.example.com/k"}
    cors: {allow_origins: ["*"]}
stages:
  - name: dev
  - name: prod
`
	spec, err := Parse("slipway.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := spec.Stages[0].Endpoint.Gateway, spec.Stages[1].Endpoint.Gateway
	a.UsagePlans["gold"] = core.UsagePlan{}
	a.JWT.Audiences[0] = "changed"
	a.CORS.AllowCredentials = true
	if b.UsagePlans["gold"].Throttle.Rate != 1 || b.JWT.Audiences[0] != "x" || b.CORS.AllowCredentials {
		t.Errorf("stages share endpoint values: prod = %+v", b)
	}
	if got := b.UsagePlans["gold"].Throttle.Burst; got != core.DefaultStageBurst {
		t.Errorf("plan burst left out = %d, want the stage's %d", got, core.DefaultStageBurst)
	}
}

// accepts parses yml and says whether it was accepted.
func accepts(yml string) bool {
	_, err := Parse("slipway.yml", []byte(yml))
	return err == nil
}

// checkEndpointSchema checks the endpoint and routes schemas against the
// parser and core: where the block is used, defaults of
// core.DefaultEndpoint, enums, limits, and patterns probed with Parse.
func checkEndpointSchema(t *testing.T, s obj) {
	t.Helper()
	for name, o := range map[string]obj{"endpoint": s.obj(t, "properties", "endpoint"), "stages[].endpoint": s.obj(t, "properties", "stages", "items", "properties", "endpoint")} {
		if ref := o["$ref"]; ref != "#/$defs/endpoint" {
			t.Errorf("%s: $ref = %v, want #/$defs/endpoint", name, ref)
		}
	}
	ep := s.obj(t, "$defs", "endpoint", "properties")
	gw := ep.obj(t, "gateway", "properties")
	bal := ep.obj(t, "balancer", "properties")
	def := core.DefaultEndpoint()

	enums := []struct {
		name string
		o    obj
		want []string
	}{
		{"kind", ep.obj(t, "kind"), endpointKinds},
		{"gateway.api_keys", gw.obj(t, "api_keys"), apiKeyModes},
		{"balancer.algorithm", bal.obj(t, "algorithm"), algorithms},
		{"quota.period", s.obj(t, "$defs", "usagePlan", "properties", "quota", "properties", "period"), quotaPeriods},
		{"cors.allow_methods[]", gw.obj(t, "cors", "properties", "allow_methods", "items"), corsMethods},
	}
	for _, e := range enums {
		if !equalJSON(e.o["enum"], e.want) {
			t.Errorf("%s enum = %v, parser %v", e.name, e.o["enum"], e.want)
		}
	}

	// Defaults. api_keys is "" in core, which means optional.
	if def.Gateway.APIKeys != "" || gw.obj(t, "api_keys")["default"] != APIKeysOptional {
		t.Errorf("api_keys default = %v, core %q; want optional and \"\"", gw.obj(t, "api_keys")["default"], def.Gateway.APIKeys)
	}
	throttle := s.obj(t, "$defs", "throttle", "properties")
	for name, c := range map[string]struct{ got, want any }{
		"kind":                  {ep.obj(t, "kind")["default"], def.Kind},
		"balancer.algorithm":    {bal.obj(t, "algorithm")["default"], def.Balancer.Algorithm},
		"gateway.max_body":      {gw.obj(t, "max_body")["default"], def.Gateway.MaxBody},
		"gateway.throttle.rate": {throttle.obj(t, "rate")["default"], def.Gateway.Throttle.Rate},
		"throttle.burst":        {throttle.obj(t, "burst")["default"], def.Gateway.Throttle.Burst},
	} {
		if !equalJSON(c.got, c.want) {
			t.Errorf("%s: default %v, core %v", name, c.got, c.want)
		}
	}
	for name, c := range map[string]struct {
		o    obj
		want core.Duration
	}{
		"gateway.timeout":       {gw.obj(t, "timeout"), def.Gateway.Timeout},
		"balancer.idle_timeout": {bal.obj(t, "idle_timeout"), def.Balancer.IdleTimeout},
		"balancer.sticky":       {bal.obj(t, "sticky"), def.Balancer.Sticky},
		"cors.max_age":          {gw.obj(t, "cors", "properties", "max_age"), (core.CORSSpec{}).MaxAge},
	} {
		got, err := time.ParseDuration(fmt.Sprint(c.o["default"]))
		if err != nil || core.Duration(got) != c.want || c.o["$ref"] != "#/$defs/duration" {
			t.Errorf("%s: default %v ($ref %v), core %s", name, c.o["default"], c.o["$ref"], c.want)
		}
	}

	// Limits.
	rate, burst := s.obj(t, "$defs", "rate"), s.obj(t, "$defs", "burst")
	maxBody := gw.obj(t, "max_body")
	limit := s.obj(t, "$defs", "usagePlan", "properties", "quota", "properties", "limit")
	for name, c := range map[string]struct{ got, want any }{
		"rate.exclusiveMinimum": {rate["exclusiveMinimum"], 0},
		"rate.maximum":          {rate["maximum"], MaxRate},
		"burst.minimum":         {burst["minimum"], 1},
		"burst.maximum":         {burst["maximum"], MaxBurst},
		"max_body.minimum":      {maxBody["minimum"], MinMaxBody},
		"max_body.maximum":      {maxBody["maximum"], MaxMaxBody},
		"quota.limit.minimum":   {limit["minimum"], 1},
	} {
		if !equalJSON(c.got, c.want) {
			t.Errorf("%s = %v, parser %v", name, c.got, c.want)
		}
	}
	probe := func(what string, pattern any, values []string, yml func(string) string) {
		t.Helper()
		re := regexp.MustCompile(pattern.(string))
		for _, v := range values {
			if got, want := re.MatchString(v), accepts(yml(v)); got != want {
				t.Errorf("%s %q: schema says %v, parser says %v", what, v, got, want)
			}
		}
	}
	gateway := func(block string) func(string) string {
		return func(v string) string { return fmt.Sprintf("name: a\nendpoint:\n  gateway:\n    "+block+"\n", v) }
	}
	probe("max_body", maxBody["pattern"], []string{"1MB", "10MB", "2048KB", "5 MB", "5mb", "1048576", "1048576B", "5M", "5GB", "MB", "5 MiB"},
		gateway("max_body: %q"))
	probe("usage plan name", gw.obj(t, "usage_plans", "propertyNames")["pattern"], []string{"gold", "free-tier", "a_1", "Gold", "1a", "-a", "a b", strings.Repeat("a", 40), strings.Repeat("a", 41)},
		gateway("usage_plans: {%q: {}}"))
	urls := []string{"https://auth.example.com/", "https://auth.example.com", "https://a.example.com:8443/x?y=1", "http://localhost:9000/", "http://127.0.0.1/jwks", "http://[::1]:8080/", "http://auth.example.com/", "ftp://a.example.com/", "https://", "https://u:p@a.example.com/", "auth.example.com", "https://a.example.com/#k"}
	probe("jwt.issuer", s.obj(t, "$defs", "httpsURL")["pattern"], urls,
		gateway("jwt: {issuer: %q, audiences: [x], jwks_url: \"https://a.example.com/k\"}"))
	origins := []string{"*", "https://app.example.com", "http://localhost:3000", "https://app.example.com/", "https://App.example.com", "app.example.com", "https://a.example.com/x", "ftp://a.example.com", "https://u@a.example.com"}
	probe("cors origin", gw.obj(t, "cors", "properties", "allow_origins", "items")["pattern"], origins,
		gateway("cors: {allow_origins: [%q]}"))
	probe("header name", s.obj(t, "$defs", "headerName")["pattern"], []string{"Content-Type", "*", "X-Request-Id", "a b", "a:b", ""},
		gateway("cors: {allow_origins: [\"*\"], allow_headers: [%q]}"))
	scopes := gw.obj(t, "jwt", "properties", "scopes")
	jwt := "jwt: {issuer: \"https://a.example.com/\", audiences: [x], jwks_url: \"https://a.example.com/k\", scopes: %s}"
	probe("scope path", scopes.obj(t, "propertyNames")["pattern"], []string{"/", "/admin", "admin", "/a b"},
		func(v string) string { return gateway(jwt)(fmt.Sprintf("{%q: [x]}", v)) })
	probe("scope", scopes.obj(t, "additionalProperties", "items")["pattern"], []string{"admin", "read:all", "a b", `a"b`, ""},
		func(v string) string { return gateway(jwt)(fmt.Sprintf("{\"/\": [%q]}", v)) })

	// Routes.
	route := s.obj(t, "properties", "stages", "items", "properties", "routes", "items")
	if got := route["required"]; !equalJSON(got, []string{"path", "stage"}) {
		t.Errorf("routes[].required = %v, want [path stage]", got)
	}
	rp := route.obj(t, "properties")
	checkNamePattern(t, "stack", rp.obj(t, "stack"), core.MaxStackNameLen, core.ValidateStackName)
	checkNamePattern(t, "stage", rp.obj(t, "stage"), core.MaxStageNameLen, core.ValidateStageName)
	probe("route path", rp.obj(t, "path")["pattern"], []string{"/", "/api", "/api/v1", "api", "/a b", "/a?b", "/a#b"},
		func(v string) string {
			return fmt.Sprintf("name: a\nstages:\n  - name: dev\n    routes: [{path: %q, stage: prod}]\n  - name: prod\n", v)
		})
	if rp.obj(t, "strip")["default"] != false {
		t.Errorf("routes[].strip default = %v, want false", rp.obj(t, "strip")["default"])
	}
}
