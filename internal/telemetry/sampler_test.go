package telemetry

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/engine"
)

type fakeSource []StageInstances

func (f fakeSource) Stages(context.Context) ([]StageInstances, error) { return f, nil }

// fakeStats answers each instance's next sample: CPU time grows by
// busy per call (a call is 10 s apart on the sample clock).
type fakeStats struct {
	mu   sync.Mutex
	now  *time.Time
	busy map[string]time.Duration
	mem  map[string]uint64
	used map[string]uint64
}

func (f *fakeStats) Stats(_ context.Context, id string) (engine.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.busy[id]
	if !ok {
		return engine.Stats{}, errors.New("no such container")
	}
	f.used[id] += uint64(b)
	return engine.Stats{Time: *f.now, CPUNanos: f.used[id], MemoryBytes: f.mem[id]}, nil
}

func TestSampler(t *testing.T) {
	ts := newTestStore(t, "", 0)
	src := fakeSource{
		{Stack: "shop", Stage: "prod", CPUs: 0.5, Instances: []InstanceRef{{"c1", "shop-prod-1"}, {"c2", "shop-prod-2"}}},
		{Stack: "shop", Stage: "dev", Instances: nil},
	}
	stats := &fakeStats{now: &ts.now, used: map[string]uint64{},
		busy: map[string]time.Duration{"c1": time.Second, "c2": 3 * time.Second}, // 10% and 30% of a core
		mem:  map[string]uint64{"c1": 100 << 20, "c2": 50 << 20}}
	sm := NewSampler(ts.Store, src, stats, nil)
	sm.Sample(context.Background()) // the first sample gives no CPU rate
	ts.tick()
	sm.Sample(context.Background())
	// A request reported with the container ID lands in the named series.
	ts.ObserveRequest(Request{Stack: "shop", Stage: "prod", Instance: "c1", Status: 200})
	ts.tick()
	from := t0.Add(FineStep)
	tests := []struct {
		key  Key
		want float64
	}{
		{Key{"shop", "prod", "shop-prod-1", CPUPercent}, 20}, // 10% of a core is 20% of half a vCPU
		{Key{"shop", "prod", "shop-prod-2", CPUPercent}, 60},
		{Key{"shop", "prod", "", CPUPercent}, 40},
		{Key{"shop", "prod", "shop-prod-1", MemoryMB}, 100},
		{Key{"shop", "prod", "", MemoryMB}, 150},
		{Key{"shop", "prod", "", Instances}, 2},
		{Key{"shop", "dev", "", Instances}, 0},
		{Key{"shop", "prod", "shop-prod-1", Requests}, 1},
	}
	for _, tt := range tests {
		pts := ts.Query(tt.key, from, ts.now, 0)
		if len(pts) != 1 || !near(pts[0].V, tt.want, 0.001) {
			t.Errorf("%+v: got %v, want one point of %g", tt.key, pts, tt.want)
		}
	}
}

// TestSamplerForgetsDeletedStages: /metrics stops exposing the totals
// of a stack that is gone.
func TestSamplerForgetsDeletedStages(t *testing.T) {
	ts := newTestStore(t, "", 0)
	ts.ObserveRequest(req(200, 1))
	ts.ObserveRequest(Request{Stack: "gone", Stage: "dev", Status: 200})
	ts.Add(Key{Stack: "gone", Metric: BuildsSucceeded}, 1)
	ts.Add(Key{Stack: "shop", Metric: BuildsSucceeded}, 1)
	stats := &fakeStats{now: &ts.now, used: map[string]uint64{}, busy: map[string]time.Duration{}, mem: map[string]uint64{}}
	NewSampler(ts.Store, fakeSource{{Stack: "shop", Stage: "prod"}}, stats, nil).Sample(context.Background())
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Authorization", "Bearer t")
	ts.Handler(TokenChecker("t")).ServeHTTP(rec, r)
	body := rec.Body.String()
	if strings.Contains(body, `stack="gone"`) {
		t.Errorf("a deleted stack's totals are still exposed:\n%s", body)
	}
	for _, want := range []string{`slipway_requests_total{code_class="2xx",stack="shop",stage="prod"} 1`, `slipway_builds_total{result="succeeded",stack="shop"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestUtilization(t *testing.T) {
	at := func(s int, cpu time.Duration) engine.Stats {
		return engine.Stats{Time: t0.Add(time.Duration(s) * time.Second), CPUNanos: uint64(cpu)}
	}
	tests := []struct {
		name      string
		prev, cur engine.Stats
		cpus      float64
		want      float64
		ok        bool
	}{
		{"half a core of one vCPU", at(0, 0), at(10, 5*time.Second), 1, 50, true},
		{"a core of a quarter vCPU", at(0, 0), at(10, 10*time.Second), 0.25, 400, true},
		{"no reservation: of a core", at(0, 0), at(10, 2*time.Second), 0, 20, true},
		{"restarted (counter went back)", at(0, time.Second), at(10, 0), 1, 0, false},
		{"same time", at(0, 0), at(0, time.Second), 1, 0, false},
	}
	for _, tt := range tests {
		got, ok := Utilization(tt.prev, tt.cur, tt.cpus)
		if ok != tt.ok || ok && !near(got, tt.want, 1e-9) {
			t.Errorf("%s: got %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
