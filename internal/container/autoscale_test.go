package container

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

func TestUtilization(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := engine.Stats{Time: t0, CPUNanos: 1e9}
	b := engine.Stats{Time: t0.Add(2 * time.Second), CPUNanos: 1.5e9} // 0.25 CPU used
	if pct, ok := Utilization(a, b, 0.25); !ok || pct < 99.9 || pct > 100.1 {
		t.Fatalf("got %v %v, want 100%%", pct, ok)
	}
	if pct, _ := Utilization(a, b, 1); pct < 24.9 || pct > 25.1 {
		t.Fatalf("got %v, want 25%%", pct)
	}
	if _, ok := Utilization(b, a, 1); ok {
		t.Fatal("backwards samples gave a rate")
	}
}

func TestAutoscale(t *testing.T) {
	now := time.Unix(10_000, 0)
	spec := core.DefaultScale() // min 1, max 5, target 75, out 30s, in 5m
	long := now.Add(-time.Hour)
	cases := []struct {
		name            string
		current         int
		avg             float64
		lastOut, lastIn time.Time
		want            int
	}{
		{"idle at min", 1, 5, long, long, 1},
		{"above target adds enough", 1, 200, long, long, 3},
		{"just above target adds one", 2, 80, long, long, 3},
		{"capped at max", 4, 400, long, long, 5},
		{"at max stays", 5, 400, long, long, 5},
		{"scale-out cooldown", 1, 200, now.Add(-10 * time.Second), long, 1},
		{"between 0.8 and 1 × target holds", 3, 65, long, long, 3},
		{"below 0.8 × target removes one", 3, 20, long, long, 2},
		{"scale-in cooldown", 3, 20, long, now.Add(-time.Minute), 3},
		{"no scale in right after a scale out", 3, 20, now.Add(-time.Minute), long, 3},
		{"never below min", 1, 0, long, long, 1},
		{"below min after a spec change", 0, 0, long, long, 1},
		{"above max after a spec change", 7, 50, now, now, 5},
	}
	for _, tc := range cases {
		d := Autoscale(ScaleInput{Spec: spec, Current: tc.current, AvgCPU: tc.avg, Samples: 6, LastOut: tc.lastOut, LastIn: tc.lastIn, Now: now})
		if d.Desired != tc.want || d.Changed != (tc.want != tc.current) {
			t.Errorf("%s: got %+v, want %d", tc.name, d, tc.want)
		}
		if d.Changed && d.Reason == "" {
			t.Errorf("%s: a decision without its reason", tc.name)
		}
	}
	if d := Autoscale(ScaleInput{Spec: spec, Current: 2, AvgCPU: 500, Samples: 0, Now: now}); d.Changed {
		t.Errorf("decided without samples: %+v", d)
	}
}
