package telemetry

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkMemoryAtFullRetention fills a store as 50 stages of 5
// instances would over 90 days (every series the request path and the
// sampler make, with noise drawn afresh every point: a worst case) and
// reports its memory; the figure in doc.go comes from here:
//
//	go test ./internal/telemetry -run - -bench MemoryAtFullRetention -benchtime 1x
func BenchmarkMemoryAtFullRetention(b *testing.B) {
	for range b.N {
		benchMemory(b)
	}
}

func benchMemory(t *testing.B) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Open(Config{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	type gen struct {
		key   Key
		kind  Kind
		value func() float64
	}
	var gens []gen
	noisy := func(base, spread float64) func() float64 {
		return func() float64 { return base + spread*rnd.NormFloat64() }
	}
	count := func(mean float64) func() float64 {
		return func() float64 { return float64(int(mean + mean/5*rnd.NormFloat64())) }
	}
	for st := range 50 {
		stage := Key{Stack: fmt.Sprintf("stack%02d", st/2), Stage: []string{"dev", "prod"}[st%2]}
		scopes := []Key{stage}
		for i := range 5 {
			in := stage
			in.Instance = fmt.Sprintf("%s-%s-%d", stage.Stack, stage.Stage, i)
			scopes = append(scopes, in)
		}
		for _, sc := range scopes {
			add := func(m string, kind Kind, f func() float64) {
				k := sc
				k.Metric = m
				gens = append(gens, gen{k, kind, f})
			}
			for _, p := range sc.instancePoints() {
				switch p {
				case Requests, Status2xx:
					add(p, Counter, count(200))
				case Status4xx:
					add(p, Counter, count(5))
				case P50Latency:
					add(p, Latency, noisy(20, 3))
				case P90Latency:
					add(p, Latency, noisy(60, 10))
				case P99Latency:
					add(p, Latency, noisy(200, 40))
				case Concurrency:
					add(p, Gauge, noisy(0.4, 0.1))
				}
			}
			add(CPUPercent, Gauge, noisy(35, 8))
			add(MemoryMB, Gauge, noisy(180, 0.5))
			if sc.Instance == "" {
				add(Instances, Gauge, func() float64 { return 5 })
			}
		}
	}
	fineSlots := int64(FineRetention / FineStep)
	coarseSlots := int64(CoarseRetention / CoarseStep)
	end := fineSlot(t0)
	s.mu.Lock()
	for _, g := range gens {
		for c := floorDiv(end, finePerCoarse) - coarseSlots; c < floorDiv(end, finePerCoarse); c++ {
			s.applyLocked([]point{{g.key, g.kind, c, quantize(g.key.Metric, g.value())}}, true)
		}
		for f := end - fineSlots; f < end; f++ {
			s.applyLocked([]point{{g.key, g.kind, f, quantize(g.key.Metric, g.value())}}, false)
		}
	}
	// Each stage's 10 s latency histograms for 48 h.
	for st := range 50 {
		sc := scope{fmt.Sprintf("stack%02d", st/2), []string{"dev", "prod"}[st%2], ""}
		l := &histLog{}
		s.hists[sc] = l
		for f := end - fineSlots; f < end; f++ {
			var h hist
			for range 20 {
				h.observe(time.Duration(20e6 * math.Exp(0.6*rnd.NormFloat64())))
			}
			l.add(f, &h)
		}
	}
	s.mu.Unlock()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("50 stages × 5 instances, 90 days: %d series, %.0f MB estimated, %.0f MB heap (%.1f KB a series)",
		s.Len(), float64(s.Bytes())/(1<<20), heap, heap*1024/float64(s.Len()))
	t.ReportMetric(heap, "MB-heap")
	t.ReportMetric(float64(s.Len()), "series")
	runtime.KeepAlive(s)
}

// instancePoints lists the request metrics a stage or instance scope
// stores (see reqWindow.points).
func (k Key) instancePoints() []string {
	var out []string
	for _, p := range (&reqWindow{requests: 1, class: [5]uint64{0, 1, 0, 1, 0}, hist: hist{count: 1, n: [histBuckets]uint32{1}}}).points(scope{k.Stack, k.Stage, k.Instance}, 0, FineStep) {
		out = append(out, p.key.Metric)
	}
	return out
}

// BenchmarkLoad measures a start's replay of 100 series at full
// retention from their segment files (the time scales with the series):
//
//	go test ./internal/telemetry -run - -bench Load -benchtime 1x
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	segs, err := openSegments(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	end := fineSlot(t0)
	var pts []point
	for i := range 100 {
		pts = append(pts, point{key: Key{"stack", "prod", fmt.Sprintf("i%d", i), CPUPercent}, kind: Gauge})
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	write := func(coarse bool, slot int64) {
		for i := range pts {
			pts[i].slot, pts[i].v = slot, quantize(CPUPercent, 35+8*rnd.NormFloat64())
		}
		if err := segs.write(coarse, slot, pts); err != nil {
			b.Fatal(err)
		}
	}
	for c := floorDiv(end, finePerCoarse) - int64(CoarseRetention/CoarseStep); c < floorDiv(end, finePerCoarse); c++ {
		write(true, c)
	}
	for f := end - int64(FineRetention/FineStep); f < end; f++ {
		write(false, f)
	}
	segs.close()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		s, err := Open(Config{Dir: dir, Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-load")
		if s.Len() != 100 {
			b.Fatalf("%d series loaded", s.Len())
		}
		s.segs.close()
	}
}

// BenchmarkObserveRequest is the request path's cost, four gateway
// goroutines at once.
func BenchmarkObserveRequest(b *testing.B) {
	s, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	s.SetInstanceNames(map[string]string{"c1": "shop-prod-1"})
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		r := Request{Stack: "shop", Stage: "prod", Instance: "c1", Status: 200, Latency: 3 * time.Millisecond}
		for pb.Next() {
			s.ObserveRequest(r)
		}
	})
}
