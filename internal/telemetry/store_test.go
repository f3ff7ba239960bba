package telemetry

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 starts a day (and so an hour and a 5 min period).
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testStore is a Store on a clock the test moves.
type testStore struct {
	*Store
	t   *testing.T
	now time.Time
}

func newTestStore(t *testing.T, dir string, maxSeries int) *testStore {
	t.Helper()
	return newTestStoreAt(t, dir, maxSeries, t0)
}

// newTestStoreAt opens the store at a given time.
func newTestStoreAt(t *testing.T, dir string, maxSeries int, at time.Time) *testStore {
	t.Helper()
	ts := &testStore{t: t, now: at}
	s, err := Open(Config{Dir: dir, MaxSeries: maxSeries, Now: func() time.Time { return ts.now }})
	if err != nil {
		t.Fatal(err)
	}
	ts.Store = s
	return ts
}

// tick ends the open 10 s window.
func (ts *testStore) tick() {
	ts.now = ts.now.Add(FineStep)
	ts.closeWindow(fineSlot(ts.now) - 1)
}

// jump moves the clock on by d, closing only the window it lands after.
func (ts *testStore) jump(d time.Duration) {
	ts.now = ts.now.Add(d)
	ts.closeWindow(fineSlot(ts.now) - 1)
}

func req(status int, ms float64) Request {
	return Request{Stack: "shop", Stage: "prod", Instance: "shop-prod-1", Status: status, Latency: time.Duration(ms * float64(time.Millisecond))}
}

func stageKey(metric string) Key { return Key{Stack: "shop", Stage: "prod", Metric: metric} }

func values(pts []Point) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.V
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(math.Abs(b), 1e-9) }

func TestWindowPoints(t *testing.T) {
	ts := newTestStore(t, "", 0)
	for range 8 {
		ts.ObserveRequest(req(200, 10))
	}
	ts.ObserveRequest(req(404, 10))
	ts.ObserveRequest(Request{Stack: "shop", Stage: "prod", Status: 429, Throttled: true})
	ts.ObserveRequest(Request{Stack: "shop", Stage: "prod", Instance: "shop-prod-1", Status: 503, Latency: time.Second, ColdStart: true})
	ts.ObserveRequest(Request{Status: 404}) // no route: not recorded
	ts.tick()
	from, to := t0, ts.now
	tests := []struct {
		key  Key
		want []float64
	}{
		{stageKey(Requests), []float64{11}},
		{stageKey(Status2xx), []float64{8}},
		{stageKey(Status3xx), []float64{0}}, // a counter of a stage with data: 0
		{stageKey(Status4xx), []float64{2}},
		{stageKey(Status5xx), []float64{1}},
		{stageKey(Errors), []float64{1}},
		{stageKey(Throttles), []float64{1}},
		{stageKey(ColdStarts), []float64{1}},
		{Key{"shop", "prod", "shop-prod-1", Requests}, []float64{10}},
		{stageKey(CPUPercent), nil},               // a gauge without data: absent
		{Key{"other", "prod", "", Requests}, nil}, // unknown stage: absent
		{stageKey("bogus"), nil},
	}
	for _, tt := range tests {
		got := values(ts.Query(tt.key, from, to, 0))
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.key.Metric, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: got %v, want %v", tt.key.Metric, got, tt.want)
			}
		}
	}
	// Concurrency is busy time over the window: 8×10+10+0+1000 ms in 10 s.
	if c := ts.Query(stageKey(Concurrency), from, to, 0); len(c) != 1 || !near(c[0].V, 0.109, 0.01) {
		t.Errorf("concurrency = %v, want [0.109]", c)
	}
	if p := ts.Query(stageKey(P50Latency), from, to, 0); len(p) != 1 || !near(p[0].V, 10, 0.19) {
		t.Errorf("p50 = %v, want about 10 ms", p)
	}
	if p := ts.Query(stageKey(P99Latency), from, to, 0); len(p) != 1 || !near(p[0].V, 1000, 0.19) {
		t.Errorf("p99 = %v, want about 1000 ms", p)
	}
	if got := ts.Query(stageKey(Requests), from, to, 0); len(got) == 1 && !got[0].T.Equal(t0) {
		t.Errorf("point time = %s, want the window's start %s", got[0].T, t0)
	}
}

// TestQueryReadsStoredDecimals: points are float32 inside the store,
// but read back as the decimal they were stored as (for JSON, alarm
// reasons and the CLI), not as float32's binary expansion.
func TestQueryReadsStoredDecimals(t *testing.T) {
	ts := newTestStore(t, "", 0)
	ts.Set(stageKey(MemoryMB), 123.4)
	ts.Set(stageKey(CPUPercent), 408.23)
	ts.tick()
	for metric, want := range map[string]float64{MemoryMB: 123.4, CPUPercent: 408.23} {
		if got := values(ts.Query(stageKey(metric), t0, ts.now, 0)); len(got) != 1 || got[0] != want {
			t.Errorf("%s reads %v, want [%v]", metric, got, want)
		}
	}
}

// TestCounterZerosStartWithTheData: a stage that first had data in the
// middle of a 5 min period reads counter zeros from then on, also after
// the period's coarse point is made (not from the period's start), and
// also after a restart replays both tiers.
func TestCounterZerosStartWithTheData(t *testing.T) {
	dir := t.TempDir()
	start := t0.Add(2 * time.Minute)
	ts := newTestStoreAt(t, dir, 0, start)
	ts.ObserveRequest(req(200, 1))
	for ts.now.Before(t0.Add(6 * time.Minute)) {
		ts.tick()
	}
	check := func(ts *testStore, when string) {
		t.Helper()
		pts := ts.Query(stageKey(Requests), t0, ts.now, 0)
		if len(pts) != 1 || !pts[0].T.Equal(start) || pts[0].V != 1 {
			t.Fatalf("%s: requests from %s: first of %d points %+v, want 1 at %s", when, t0.Format("15:04"), len(pts), pts[:min(len(pts), 1)], start.Format("15:04:05"))
		}
		if c := ts.Query(stageKey(Requests), t0, t0.Add(5*time.Minute), 5*time.Minute); len(c) != 1 || c[0].V != 1 {
			t.Fatalf("%s: the 5 min point: %+v", when, c)
		}
	}
	check(ts, "live")
	ts.Close()
	check(newTestStoreAt(t, dir, 0, ts.now), "after a restart")
}

func TestDownsampling(t *testing.T) {
	ts := newTestStore(t, "", 0)
	// 27 windows of fast requests, then 3 of slow ones: the 5 min p50 is
	// fast (from the merged histogram), though the largest 10 s p50 is
	// slow; the cpu gauge averages; requests sum.
	for i := range 30 {
		ms := 10.0
		if i >= 27 {
			ms = 1000
		}
		for range 10 {
			ts.ObserveRequest(req(200, ms))
		}
		ts.Set(stageKey(CPUPercent), float64(i))
		ts.tick()
	}
	// Within 48 h, a 5 min step reads the 5 min point: the merged p50 is
	// fast, though the largest 10 s p50 is slow.
	if p := ts.Query(stageKey(P50Latency), t0, ts.now, CoarseStep); len(p) != 1 || !near(p[0].V, 10, 0.19) {
		t.Errorf("p50 at a 5 min step: %v, want about 10 ms", p)
	}
	// A 1 min step merges its six 10 s histograms: the last minute's 30
	// fast and 30 slow requests have a fast p50 and a slow p99.
	if p := ts.Query(stageKey(P50Latency), t0, ts.now, time.Minute); len(p) != 5 || !near(p[4].V, 10, 0.19) {
		t.Errorf("p50 at a 1 min step: %v, want 5 points, the last about 10 ms", p)
	}
	if p := ts.Query(stageKey(P99Latency), t0, ts.now, time.Minute); len(p) != 5 || !near(p[4].V, 1000, 0.19) || !near(p[0].V, 10, 0.19) {
		t.Errorf("p99 at a 1 min step: %v, want 5 points, the first about 10 ms, the last about 1000 ms", p)
	}
	ts.jump(FineRetention + time.Hour) // the fine points are gone
	from, to := t0, t0.Add(CoarseStep)
	tests := []struct {
		metric string
		want   float64
	}{
		{Requests, 300},
		{CPUPercent, 14.5},
		{P50Latency, 10},
		{P90Latency, 10},
		{P99Latency, 1000},
		{Concurrency, (270*0.01 + 30*1.0) / 300}, // busy seconds over the period
	}
	for _, tt := range tests {
		pts := ts.Query(stageKey(tt.metric), from, to, 0)
		if len(pts) != 1 || !pts[0].T.Equal(t0) || !near(pts[0].V, tt.want, 0.19) {
			t.Errorf("%s: got %v, want one point at %s of %g", tt.metric, pts, t0, tt.want)
		}
	}
}

func TestStepReaggregation(t *testing.T) {
	ts := newTestStore(t, "", 0)
	// Six windows: requests 1..6, cpu 10..60, latency 10 ms but 500 ms in
	// the fourth; nothing in the fifth (cpu absent, requests 0).
	for i := range 6 {
		if i != 4 {
			for range i + 1 {
				ms := 10.0
				if i == 3 {
					ms = 500
				}
				ts.ObserveRequest(req(200, ms))
			}
			ts.Set(stageKey(CPUPercent), float64(10*(i+1)))
		}
		ts.tick()
	}
	from, to := t0, t0.Add(time.Minute)
	tests := []struct {
		metric string
		step   time.Duration
		want   []float64
	}{
		{Requests, 0, []float64{1, 2, 3, 4, 0, 6}},
		{Requests, 20 * time.Second, []float64{3, 7, 6}},
		{Requests, time.Minute, []float64{16}},
		{CPUPercent, 20 * time.Second, []float64{15, 35, 60}},
		{CPUPercent, 0, []float64{10, 20, 30, 40, 60}},
		{P99Latency, 20 * time.Second, []float64{10, 500, 10}},
		{P50Latency, time.Minute, []float64{10}}, // 12 of 16 requests took 10 ms
		// The 5 min period in progress: from its 10 s points.
		{Requests, 5 * time.Minute, []float64{16}},
		{P99Latency, 5 * time.Minute, []float64{500}},
	}
	for _, tt := range tests {
		got := values(ts.Query(stageKey(tt.metric), from, to, tt.step))
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = near(got[i], tt.want[i], 0.19)
		}
		if !ok {
			t.Errorf("%s step %s: got %v, want %v", tt.metric, tt.step, got, tt.want)
		}
	}
	// An instance keeps no histograms: a step takes its largest p99.
	inst := Key{"shop", "prod", "shop-prod-1", P99Latency}
	if p := ts.Query(inst, from, to, time.Minute); len(p) != 1 || !near(p[0].V, 500, 0.19) {
		t.Errorf("instance p99 at a 1 min step: %v, want about 500 ms", p)
	}
	// Step buckets start on multiples of the step.
	if pts := ts.Query(stageKey(Requests), from, to, 20*time.Second); len(pts) == 3 && !pts[1].T.Equal(t0.Add(20*time.Second)) {
		t.Errorf("second bucket at %s", pts[1].T)
	}
}

func TestRetention(t *testing.T) {
	ts := newTestStore(t, t.TempDir(), 0)
	inst := Key{"shop", "prod", "shop-prod-1", MemoryMB}
	for range 30 {
		ts.Set(inst, 100)
		ts.ObserveRequest(req(200, 5))
		ts.tick()
	}
	tests := []struct {
		after      time.Duration // since t0
		wantPoints int           // of the first 5 min: 30 fine, or 1 coarse
		wantSeries bool
	}{
		{time.Hour, 30, true},
		{FineRetention + time.Hour, 1, true},
		{CoarseRetention - time.Hour, 1, true},
		{CoarseRetention + 25*time.Hour, 0, false}, // an instance gone for longer than the retention
	}
	for _, tt := range tests {
		ts.jump(t0.Add(tt.after).Sub(ts.now))
		pts := ts.Query(inst, t0, t0.Add(CoarseStep), 0)
		if len(pts) != tt.wantPoints {
			t.Errorf("after %s: %d points, want %d", tt.after, len(pts), tt.wantPoints)
		}
		ts.mu.RLock()
		_, has := ts.series[inst]
		ts.mu.RUnlock()
		if has != tt.wantSeries {
			t.Errorf("after %s: series kept = %v, want %v", tt.after, has, tt.wantSeries)
		}
	}
	files, _ := filepath.Glob(filepath.Join(ts.cfg.Dir, "*.seg"))
	for _, f := range files {
		if _, start, length, _ := fileSpan(filepath.Base(f)); start.Add(length).Before(t0.Add(time.Hour)) {
			t.Errorf("segment %s is past retention but kept", filepath.Base(f))
		}
	}
}

func TestSeriesCap(t *testing.T) {
	ts := newTestStore(t, "", 3)
	for _, in := range []string{"a", "b", "c", "d", "e"} {
		ts.Set(Key{"shop", "prod", in, MemoryMB}, 1)
	}
	ts.tick()
	if n := ts.Len(); n != 3 {
		t.Fatalf("series = %d, want the cap of 3", n)
	}
	kept := 0
	for _, in := range []string{"a", "b", "c", "d", "e"} {
		if len(ts.Query(Key{"shop", "prod", in, MemoryMB}, t0, ts.now, 0)) == 1 {
			kept++
		}
	}
	if kept != 3 {
		t.Errorf("%d series answer, want 3", kept)
	}
	// Kept series go on getting points.
	ts.Set(Key{"shop", "prod", "a", MemoryMB}, 2)
	ts.Set(Key{"shop", "prod", "z", MemoryMB}, 2)
	ts.tick()
	if n := ts.Len(); n != 3 {
		t.Errorf("series = %d after more, want 3", n)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ts := newTestStore(t, dir, 0)
	build := Key{Stack: "shop", Metric: BuildsSucceeded}
	for i := range 40 { // a 5 min period and some
		ts.ObserveRequest(req(200, 20))
		ts.Set(stageKey(Instances), 2)
		if i == 5 {
			ts.Add(build, 1)
		}
		ts.tick()
	}
	ts.ObserveRequest(req(200, 20)) // in the open window: Close keeps it
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	end := ts.now.Add(FineStep)
	query := func(s *testStore) map[string][]Point {
		out := map[string][]Point{}
		for _, m := range []string{Requests, Instances, P99Latency, BuildsSucceeded} {
			k := stageKey(m)
			if m == BuildsSucceeded {
				k = build
			}
			out[m] = s.Query(k, t0, end, 0)
		}
		return out
	}
	want := query(ts)
	if len(want[Requests]) != 41 || len(want[Instances]) != 40 {
		t.Fatalf("before reopening: %d request points, %d instance points", len(want[Requests]), len(want[Instances]))
	}
	// A torn record at the end of a segment (a crash mid-write) is cut.
	files, _ := filepath.Glob(filepath.Join(dir, "fine-*.seg"))
	if len(files) != 1 {
		t.Fatalf("fine segments: %v", files)
	}
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{recBatch, 40, 1, 2})
	f.Close()

	re := newTestStore(t, dir, 0)
	re.now = ts.now.Add(FineStep)
	re.closedSlot.Store(fineSlot(re.now) - 1)
	got := query(re)
	for m, w := range want {
		g := got[m]
		if len(g) != len(w) {
			t.Errorf("%s after reopening: %d points, want %d", m, len(g), len(w))
			continue
		}
		for i := range w {
			if !g[i].T.Equal(w[i].T) || g[i].V != w[i].V {
				t.Errorf("%s point %d after reopening: %v, want %v", m, i, g[i], w[i])
				break
			}
		}
	}
	// The coarse point of the first period came back too.
	re.jump(FineRetention + time.Hour)
	if c := re.Query(stageKey(Requests), t0, t0.Add(CoarseStep), 0); len(c) != 1 || c[0].V != 30 {
		t.Errorf("coarse requests after reopening: %v, want [30]", c)
	}
	// And new points append after the cut.
	re.ObserveRequest(req(200, 1))
	re.tick()
	if err := re.Close(); err != nil {
		t.Fatal(err)
	}
	again := newTestStore(t, dir, 0)
	again.now = re.now
	if n := again.Len(); n == 0 {
		t.Error("nothing loaded the third time")
	}
}

// TestCoarseAfterDowntime: a 5 min period that ended while the server
// was down still gets its coarse point, from its 10 s points, at the
// first close after the restart.
func TestCoarseAfterDowntime(t *testing.T) {
	dir := t.TempDir()
	ts := newTestStore(t, dir, 0)
	for range 12 { // two minutes
		ts.ObserveRequest(req(200, 50))
		ts.Set(stageKey(CPUPercent), 40)
		ts.tick()
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	re := newTestStoreAt(t, dir, 0, t0.Add(11*time.Minute)) // down over two period ends
	re.tick()
	re.jump(FineRetention + time.Hour)
	tests := []struct {
		metric string
		want   float64
	}{
		{Requests, 12},
		{CPUPercent, 40},
		{P99Latency, 50}, // the largest 10 s p99: the histograms died with the process
	}
	for _, tt := range tests {
		pts := re.Query(stageKey(tt.metric), t0, t0.Add(10*time.Minute), 0)
		// The second period had no data (the server was down): absent.
		if len(pts) != 1 || !near(pts[0].V, tt.want, 0.19) {
			t.Errorf("%s: %v, want one point of %g", tt.metric, pts, tt.want)
		}
	}
}

// TestQuickRestart: a restart inside the 10 s window that Close closed
// early does not close that window again (its counts stay whole); what
// comes after lands in the next window.
func TestQuickRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestStoreAt(t, dir, 0, t0.Add(3*time.Second))
	for range 5 {
		ts.ObserveRequest(req(200, 1))
	}
	ts.Close() // closes the window [t0, t0+10s) at t0+3s
	re := newTestStoreAt(t, dir, 0, t0.Add(5*time.Second))
	re.ObserveRequest(req(200, 1))
	re.now = t0.Add(10 * time.Second)
	re.closeWindow(fineSlot(re.now) - 1) // Run's close of [t0, t0+10s)
	re.now = t0.Add(20 * time.Second)
	re.closeWindow(fineSlot(re.now) - 1)
	got := values(re.Query(stageKey(Requests), t0, re.now, 0))
	if len(got) != 2 || got[0] != 5 || got[1] != 1 {
		t.Errorf("requests = %v, want [5 1]", got)
	}
}
