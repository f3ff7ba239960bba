package cost

import (
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestParseCount(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		err  bool
	}{
		{"10M", 10e6, false}, {"1.5k", 1500, false}, {"2B", 2e9, false}, {"1000000", 1e6, false},
		{"10m", 10e6, false}, {" 3K ", 3000, false}, {"1_000", 1000, false}, {"0", 0, false},
		{"", 0, true}, {"M", 0, true}, {"-5", 0, true}, {"ten", 0, true}, {"5x", 0, true}, {"Inf", 0, true},
	} {
		got, err := ParseCount(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseCount(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), "k, M or B") {
			t.Errorf("ParseCount(%q): error %q does not say what is allowed", c.in, err)
		}
	}
}

func TestParseDurationMS(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		err  bool
	}{
		{"120ms", 120, false}, {"1.2s", 1200, false}, {"120", 120, false}, {"250us", 0.25, false}, {"1m", 60000, false},
		{"", 0, true}, {"-1s", 0, true}, {"fast", 0, true},
	} {
		got, err := ParseDurationMS(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDurationMS(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestStageFromSpec(t *testing.T) {
	st := core.StageSpec{Name: "prod", Scale: core.ScaleSpec{Min: 2, Max: 6, CPU: 0.5, MemoryMB: 1024},
		Endpoint: core.EndpointSpec{Kind: core.EndpointBalancer},
		Routes:   []core.Route{{Path: "/api", Stage: "api"}, {Path: "/img", Stage: "img"}}}
	// The ALB's listener rules: the default one and one per route.
	if got, want := StageFromSpec(core.ArchContainer, st), (Stage{Architecture: "container", Endpoint: "balancer", CPU: 0.5, MemoryMB: 1024, MinInstances: 2, MaxInstances: 6, Rules: 3}); got != want {
		t.Errorf("container: %+v, want %+v", got, want)
	}
	sv := core.StageSpec{Name: "dev", Serverless: core.ServerlessSpec{MemoryMB: 256, Timeout: core.Duration(3 * time.Second), MinInstances: 1, MaxInstances: 50}}
	if got, want := StageFromSpec(core.ArchServerless, sv), (Stage{Architecture: "serverless", Endpoint: "gateway", MemoryMB: 256, MinInstances: 1, MaxInstances: 50, TimeoutMS: 3000}); got != want {
		t.Errorf("serverless: %+v, want %+v", got, want)
	}
	// A spec stored before scale specs existed gets the defaults.
	if got := StageFromSpec(core.ArchContainer, core.StageSpec{Name: "old"}); got.CPU != core.DefaultCPU || got.MinInstances != core.DefaultMin || got.MaxInstances != core.DefaultMax {
		t.Errorf("old spec: %+v", got)
	}
}

func TestHumanCount(t *testing.T) {
	for in, want := range map[float64]string{999: "999", 1000: "1k", 41346269: "41.3M", 2e9: "2B", 1.25e10: "12.5B"} {
		if got := HumanCount(in); got != want {
			t.Errorf("HumanCount(%v) = %q, want %q", in, got, want)
		}
	}
}
