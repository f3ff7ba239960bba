package alarm

import (
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestParsePeriod(t *testing.T) {
	good := map[string]time.Duration{"10s": 10 * time.Second, "1m": time.Minute, "90s": 90 * time.Second, "1h": time.Hour, "1d": 24 * time.Hour, "24h": 24 * time.Hour}
	for in, want := range good {
		if got, err := ParsePeriod(in); err != nil || got != want {
			t.Errorf("%s: got %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "5s", "15s", "2d", "25h", "0", "-1m", "1x", "d", "1.5d"} {
		_, err := ParsePeriod(in)
		if err == nil || core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "use 10s to 1d in multiples of 10s") {
			t.Errorf("%q: got %v, want an invalid-period error", in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	stack := core.Stack{Name: "app", Spec: core.StackSpec{Name: "app", Stages: []core.StageSpec{{Name: "dev"}, {Name: "prod"}}}}
	base := core.AlarmSpec{Stage: "prod", Metric: "p99_latency_ms", Comparison: "above", Threshold: 500, Period: "1m", For: 3, Notify: []string{"https://hooks.example/x"}}
	a, err := Validate(base, stack, MetricNames)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "prod-p99_latency_ms-above-500" || a.Period.D() != time.Minute || a.For != 3 || a.Kind != core.AlarmMetric || a.Stack != "app" {
		t.Fatalf("alarm: %+v", a)
	}
	tests := []struct {
		name string
		edit func(*core.AlarmSpec)
		want string
	}{
		{"unknown stage", func(s *core.AlarmSpec) { s.Stage = "qa" }, `stack "app" has no stage "qa": use one of dev, prod`},
		{"unknown metric", func(s *core.AlarmSpec) { s.Metric = "latency" }, `unknown metric "latency": use one of requests, status_2xx,`},
		{"comparison", func(s *core.AlarmSpec) { s.Comparison = "over" }, `invalid comparison "over": use above or below`},
		{"period", func(s *core.AlarmSpec) { s.Period = "5s" }, `invalid period "5s": use 10s to 1d`},
		{"for 0", func(s *core.AlarmSpec) { s.For = 0 }, `invalid evaluation periods (--for) 0: use 1 to 100`},
		{"range", func(s *core.AlarmSpec) { s.Period, s.For = "1d", 8 }, `keep the evaluation range within 7 days`},
		{"webhook scheme", func(s *core.AlarmSpec) { s.Notify = []string{"ftp://u:secret@host/x?token=abc"} }, `invalid webhook URL "ftp://redacted@host/x?redacted": use an http:// or https:// URL`},
		{"too many webhooks", func(s *core.AlarmSpec) {
			s.Notify = []string{"http://a/1", "http://a/2", "http://a/3", "http://a/4", "http://a/5", "http://a/6"}
		}, "6 webhooks: use at most 5"},
		{"name", func(s *core.AlarmSpec) { s.Name = "Slow API" }, `invalid alarm name "Slow API": use 1-63 lower-case letters`},
		{"reserved name", func(s *core.AlarmSpec) { s.Name = "crash-loop-prod" }, `alarm name "crash-loop-prod" is reserved`},
		{"ID-like name", func(s *core.AlarmSpec) { s.Name = "a7" }, `alarm name "a7" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.edit(&spec)
			_, err := Validate(spec, stack, MetricNames)
			if err == nil || core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "token=abc") {
				t.Fatalf("error shows a secret: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"https://hooks.example/services/x":              "https://hooks.example/services/x",
		"https://user:pass@hooks.example/x":             "https://redacted@hooks.example/x",
		"https://token@hooks.example/x":                 "https://redacted@hooks.example/x",
		"http://127.0.0.1:9/hook?token=s3cret&x=1#frag": "http://127.0.0.1:9/hook?redacted",
		"http://h/p?":            "http://h/p?redacted",
		"http://[::1]:namedport": "(redacted URL)",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
