package kubernetes

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

func minimalStack() export.Stack {
	spec := core.StackSpec{
		Name: "shop", Architecture: core.ArchContainer, Port: 8000,
		Health: core.HealthSpec{Path: "/healthy", Explicit: true, StartTimeout: core.Duration(time.Minute)},
		Stages: []core.StageSpec{{Name: "dev"}},
	}
	return export.Stack{Spec: spec, Stages: []export.Stage{{Spec: spec.Stages[0]}}}
}

func TestName(t *testing.T) {
	if got := New().Name(); got != "kubernetes" {
		t.Errorf("Name() = %q, want kubernetes", got)
	}
}

// TestRefusesWhatCannotBeExported: each broken input is refused with a
// one-line CodeInvalid error that says what is allowed.
func TestRefusesWhatCannotBeExported(t *testing.T) {
	tests := []struct {
		name   string
		change func(*export.Stack)
		want   string
	}{
		{"bad stack name", func(s *export.Stack) { s.Spec.Name = "Shop!" }, `invalid stack name "Shop!"`},
		{"no stages", func(s *export.Stack) { s.Stages = nil }, "no stages to export"},
		{"bad architecture", func(s *export.Stack) { s.Spec.Architecture = "vm" }, `architecture "vm" cannot be exported; allowed: container, serverless`},
		{"bad port", func(s *export.Stack) { s.Spec.Port = 0 }, "port 0 is out of range; allowed: 1-65535"},
		{"bad domain", func(s *export.Stack) { s.Domain = "Example.COM" }, `domain "Example.COM" is not a DNS name`},
		{"bad stage name", func(s *export.Stack) { s.Stages[0].Spec.Name = "dev_1" }, `invalid stage name "dev_1"`},
		{"stage twice", func(s *export.Stack) { s.Stages = append(s.Stages, s.Stages[0]) }, "stage dev is listed twice"},
		{"bad custom domain", func(s *export.Stack) { s.Stages[0].Domains = []string{"shop..example.com"} }, `custom domain "shop..example.com" is not a DNS name`},
		{"bad env name", func(s *export.Stack) { s.Stages[0].Env = map[string]string{"1X": "y"} }, `env name "1X" cannot be a container's variable`},
		{"bad secret name", func(s *export.Stack) { s.Stages[0].Secrets = map[string]string{"A-B": ""} }, `secret name "A-B" cannot be a container's variable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := minimalStack()
			tt.change(&s)
			_, err := New().Export(s, export.Options{})
			if err == nil {
				t.Fatalf("no error; want one mentioning %q", tt.want)
			}
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Code != core.CodeInvalid {
				t.Errorf("error %v is not a CodeInvalid core.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line mentioning %q", err, tt.want)
			}
		})
	}
}

// TestSecretValuesOnlyWhenAsked: values the caller passes never reach
// the output unless the export includes secrets.
func TestSecretValuesOnlyWhenAsked(t *testing.T) {
	s := minimalStack()
	s.Stages[0].Secrets = map[string]string{"DB_PASSWORD": "hunter2-very-secret"}
	for _, include := range []bool{false, true} {
		files, err := New().Export(s, export.Options{IncludeSecrets: include})
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		names := map[string]bool{}
		for _, f := range files {
			all = append(all, f.Data...)
			names[f.Name] = true
		}
		if !names["dev.secrets.yaml"] {
			t.Fatalf("include=%v: no dev.secrets.yaml in %v", include, names)
		}
		if got := bytes.Contains(all, []byte("hunter2-very-secret")); got != include {
			t.Errorf("include=%v: value in output = %v", include, got)
		}
		if !bytes.Contains(all, []byte("DB_PASSWORD")) {
			t.Errorf("include=%v: the secret's name is missing", include)
		}
	}
}

func TestResources(t *testing.T) {
	tests := []struct {
		cpu       float64
		memoryMB  int
		cpuQ, mem string
	}{
		{0.25, 512, "250m", "512Mi"},
		{1, 2048, "1", "2Gi"},
		{512.0 / core.MBPerVCPU, 512, "290m", "512Mi"}, // rounded up to the millicore
		{0.1, 128, "100m", "128Mi"},
	}
	for _, tt := range tests {
		r := resources(tt.cpu, tt.memoryMB)
		for _, list := range []corev1.ResourceList{r.Requests, r.Limits} {
			if got := list.Cpu().String(); got != tt.cpuQ {
				t.Errorf("cpu %g: %s, want %s", tt.cpu, got, tt.cpuQ)
			}
			if got := list.Memory().String(); got != tt.mem {
				t.Errorf("memory %d: %s, want %s", tt.memoryMB, got, tt.mem)
			}
		}
	}
}

func TestProbes(t *testing.T) {
	sc := core.DefaultScale() // 5s interval, 2s timeout, 2 healthy, 3 unhealthy
	tests := []struct {
		name      string
		health    core.HealthSpec
		stagePath string
		wantHTTP  string // "" means a TCP probe
	}{
		{"explicit healthcheck", core.HealthSpec{Path: "/healthy", Explicit: true}, "", "/healthy"},
		{"stage path wins", core.HealthSpec{Path: "/healthy", Explicit: true}, "/ready", "/ready"},
		{"stage path without healthcheck", core.HealthSpec{Path: "/healthy"}, "/ready", "/ready"},
		{"default path probes tcp", core.HealthSpec{Path: "/healthy"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.health.StartTimeout = core.Duration(61 * time.Second)
			b := &builder{stack: core.StackSpec{Name: "shop", Health: tt.health}, notes: (&notes{}).stage("dev")}
			sc.Health.Path = tt.stagePath
			ready, live, start := b.probes(sc)
			for _, p := range []*corev1.Probe{ready, live, start} {
				switch {
				case tt.wantHTTP == "" && p.TCPSocket == nil:
					t.Errorf("want a TCP probe, got %+v", p.ProbeHandler)
				case tt.wantHTTP != "" && (p.HTTPGet == nil || p.HTTPGet.Path != tt.wantHTTP):
					t.Errorf("want GET %s, got %+v", tt.wantHTTP, p.ProbeHandler)
				}
				if p.PeriodSeconds != 5 || p.TimeoutSeconds != 2 {
					t.Errorf("period %d timeout %d, want 5 and 2", p.PeriodSeconds, p.TimeoutSeconds)
				}
			}
			if ready.SuccessThreshold != 2 || ready.FailureThreshold != 3 {
				t.Errorf("readiness thresholds %d/%d, want 2/3", ready.SuccessThreshold, ready.FailureThreshold)
			}
			if live.SuccessThreshold != 1 || live.FailureThreshold != 3 {
				t.Errorf("liveness thresholds %d/%d, want 1/3", live.SuccessThreshold, live.FailureThreshold)
			}
			if start.FailureThreshold != 13 { // 61 s in 5 s periods, rounded up
				t.Errorf("startup failureThreshold %d, want 13", start.FailureThreshold)
			}
		})
	}
}

func TestEndpointGaps(t *testing.T) {
	def := core.DefaultEndpoint()
	balancer := def
	balancer.Kind = core.EndpointBalancer
	roundRobin := balancer
	roundRobin.Balancer.Algorithm = core.RoundRobinAlgo
	roundRobin.Balancer.Sticky = core.Duration(90 * time.Minute)
	full := def
	full.Gateway.APIKeys = "required"
	full.Gateway.UsagePlans = map[string]core.UsagePlan{
		"gold": {Throttle: core.Throttle{Rate: 5, Burst: 10}, Quota: &core.Quota{Limit: 100, Period: core.QuotaWeek}},
		"free": {Throttle: core.Throttle{Rate: 1, Burst: 1}},
	}
	full.Gateway.JWT = &core.JWTSpec{Issuer: "https://id.example.com/", Audiences: []string{"a", "b"},
		Scopes: map[string][]string{"/b": {"x"}, "/a": {"y", "z"}}}
	full.Gateway.CORS = &core.CORSSpec{AllowOrigins: []string{"*"}}
	tests := []struct {
		name       string
		ep         core.EndpointSpec
		serverless bool
		want       []string // settings, in order
		mapping    string   // in the last gap's mapping
	}{
		{"default gateway", def, false,
			[]string{"throttle: 10000 requests/s, burst 5000", "timeout: 30s", "max_body: 10485760 bytes"}, "Gateway API"},
		{"gateway on knative", def, true,
			[]string{"throttle", "timeout: 30s", "max_body"}, "No core equivalent"},
		{"every gateway feature", full, false, []string{
			"api_keys: required", "usage plan free: 1 requests/s, burst 1", "usage plan gold: 5 requests/s, burst 10, quota 100 per week",
			"jwt: issuer https://id.example.com/, audiences a, b, scopes /a needs y+z; /b needs x",
			"cors: allow_origins *", "throttle", "timeout", "max_body"}, ""},
		{"default balancer", balancer, false, []string{"algorithm: least_outstanding", "idle_timeout: 1m"}, ""},
		{"round robin, sticky", roundRobin, false, []string{"sticky: 1h30m (cookie affinity)", "idle_timeout: 1m"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gaps := endpointGaps(tt.ep, tt.serverless)
			if len(gaps) != len(tt.want) {
				t.Fatalf("%d gaps, want %d: %+v", len(gaps), len(tt.want), gaps)
			}
			for i, g := range gaps {
				if !strings.HasPrefix(g.setting, tt.want[i]) || g.mapping == "" {
					t.Errorf("gap %d = %+v, want a setting starting %q and a mapping", i, g, tt.want[i])
				}
			}
			if tt.mapping != "" && !strings.Contains(gaps[len(gaps)-1].mapping, tt.mapping) {
				t.Errorf("last mapping %q does not mention %q", gaps[len(gaps)-1].mapping, tt.mapping)
			}
		})
	}
	// On Knative, the timeout's mapping names Knative's own setting.
	if m := endpointGaps(def, true)[1].mapping; !strings.Contains(m, "timeoutSeconds") {
		t.Errorf("knative timeout mapping %q does not mention timeoutSeconds", m)
	}
}

func TestHosts(t *testing.T) {
	got := hosts("shop", "prod", "example.net", []string{"www.example.com", "API.example.com", "www.example.com", "prod.shop.example.net"})
	want := "prod.shop.example.net api.example.com www.example.com"
	if strings.Join(got, " ") != want {
		t.Errorf("hosts = %v, want %s", got, want)
	}
}

func TestLocalImage(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:5000/shop@sha256:00": true,
		"localhost:5000/shop:dev":       true,
		"localhost/shop":                true,
		"[::1]:5000/shop":               true,
		"registry.example.com/shop:1":   false,
		"shop:latest":                   false,
		"library/shop":                  false,
		"":                              false,
	}
	for image, want := range tests {
		if got := localImage(image); got != want {
			t.Errorf("localImage(%q) = %v, want %v", image, got, want)
		}
	}
}
