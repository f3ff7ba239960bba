package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Resolutions and retention (CloudWatch's: 10 s high-resolution points
// for recent data, 5 min after).
const (
	FineStep        = 10 * time.Second
	CoarseStep      = 5 * time.Minute
	FineRetention   = 48 * time.Hour
	CoarseRetention = 90 * 24 * time.Hour

	fineChunk     = 360 // slots per chunk: an hour of 10 s points
	coarseChunk   = 288 // a day of 5 min points
	finePerCoarse = int64(CoarseStep / FineStep)

	// DefaultMaxSeries caps the series a Store keeps. At the measured
	// ~100 KB a series at full retention with noisy data, plus stages'
	// histograms (see doc.go), that bounds memory at about 750 MB; a
	// server with 50 stages of 5 instances has 1,500.
	DefaultMaxSeries = 5000
)

// Config configures a Store.
type Config struct {
	// Dir holds the segment files; "" keeps nothing on disk.
	Dir    string
	Logger *slog.Logger
	// MaxSeries caps the number of series (DefaultMaxSeries if 0). Points
	// of new series past the cap are dropped with a logged warning.
	MaxSeries int
	// Now is the clock (time.Now if nil); tests set it.
	Now func() time.Time
}

// Request is one finished request, as the gateway reports it.
type Request struct {
	Stack, Stage string
	Instance     string // "" when no instance served it
	Status       int
	Latency      time.Duration
	ColdStart    bool
	// Throttled is a 429 the gateway answered itself (throttling,
	// quotas, a full serverless queue), not one an app sent.
	Throttled bool
}

// Store is the embedded metrics store. Ingestion (ObserveRequest, Set,
// Add) only updates the open window's accumulators; Run closes a window
// every 10 s into one point per series, and every 5 min a coarse point.
type Store struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	segs *segments // nil without Dir

	reqMu  sync.Mutex
	reqs   map[scope]*reqAcc
	totals map[scope]*stageTotals // cumulative since start, for /metrics

	winMu      sync.Mutex
	win        map[Key]*cell
	gaugesNow  map[Key]gaugeSample // latest sampled gauge values, for /metrics
	addTotals  map[Key]float64     // cumulative Add()s since start, for /metrics
	aliases    atomic.Pointer[map[string]string]
	closeMu    sync.Mutex // one window close at a time
	closedSlot atomic.Int64

	mu        sync.RWMutex
	series    map[Key]*series
	spans     map[scope]*span
	hists     map[scope]*histLog // stages' 10 s latency histograms
	dropped   int                // points of series past the cap since the last warning
	warnedCap time.Time          // when the cap was last warned of
}

type scope struct{ stack, stage, instance string }

type series struct {
	kind         Kind
	fine, coarse tier
	last         int64 // last fine slot written
}

// span is the fine slots a stack, stage or instance had any data in:
// counters read 0, not absent, inside it.
type span struct{ first, last int64 }

type cell struct {
	sum float64
	n   int
}

type gaugeSample struct {
	v float64
	t time.Time
}

// reqWindow accumulates one period's requests of a stage or instance.
type reqWindow struct {
	requests, throttles, cold uint64
	class                     [5]uint64 // 1xx..5xx
	busy                      time.Duration
	hist                      hist
}

type reqAcc struct {
	win  reqWindow
	five hist // merged windows of the 5 min period in progress
	idle int  // windows closed without a request
}

// stageTotals are a stage's cumulative request counts since start.
type stageTotals struct {
	class           [5]uint64
	other           uint64 // statuses outside 100-599
	throttles, cold uint64
	buckets         [histBuckets]uint64
	count           uint64
	sumSec          float64
}

// Open loads what Dir holds (deleting files past retention) and returns
// the store. Call Run to close windows and Close to flush.
func Open(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{cfg: cfg, log: cfg.Logger.With("component", "metrics"), now: cfg.Now,
		reqs: map[scope]*reqAcc{}, totals: map[scope]*stageTotals{},
		win: map[Key]*cell{}, gaugesNow: map[Key]gaugeSample{}, addTotals: map[Key]float64{},
		series: map[Key]*series{}, spans: map[scope]*span{}, hists: map[scope]*histLog{}}
	s.closedSlot.Store(fineSlot(s.now()) - 1)
	if cfg.Dir != "" {
		segs, err := openSegments(cfg.Dir, s.log)
		if err != nil {
			return nil, err
		}
		s.segs = segs
		s.mu.Lock()
		maxFine := int64(math.MinInt64)
		n, err := segs.load(s.now(), func(coarse bool) sink { return &replay{s: s, coarse: coarse, maxFine: &maxFine} })
		s.mu.Unlock()
		// Closing resumes after the last point on disk: the first close
		// after a restart makes the coarse points of the periods that
		// ended while the server was down (from their 10 s points), and a
		// window a quick restart closed early is not closed twice.
		if maxFine != math.MinInt64 && maxFine <= fineSlot(s.now()) {
			s.closedSlot.Store(maxFine)
		}
		if err != nil {
			return nil, err
		}
		if n > 0 {
			s.log.Info("metrics loaded", "points", n, "series", len(s.series), "dir", cfg.Dir)
		}
		if s.dropped > 0 {
			s.log.Warn(fmt.Sprintf("metrics series cap of %d reached while loading: dropped %d points", cfg.MaxSeries, s.dropped))
			s.dropped = 0
		}
	}
	return s, nil
}

func fineSlot(t time.Time) int64   { return floorDiv(t.UnixNano(), int64(FineStep)) }
func coarseSlot(t time.Time) int64 { return floorDiv(t.UnixNano(), int64(CoarseStep)) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// SetInstanceNames maps instance IDs (as the gateway reports container
// instances) to their names, so an instance's requests and its sampled
// CPU land in the same series.
func (s *Store) SetInstanceNames(idToName map[string]string) {
	s.aliases.Store(&idToName)
}

func (s *Store) instanceName(id string) string {
	if m := s.aliases.Load(); m != nil {
		if n, ok := (*m)[id]; ok {
			return n
		}
	}
	return id
}

// ObserveRequest records one finished request: a map lookup and a few
// additions under one lock. Requests without a stack (no route) are not
// recorded.
func (s *Store) ObserveRequest(r Request) {
	if r.Stack == "" || r.Stage == "" {
		return
	}
	inst := ""
	if r.Instance != "" {
		inst = s.instanceName(r.Instance)
	}
	b := bucketOf(r.Latency)
	s.reqMu.Lock()
	stage := scope{r.Stack, r.Stage, ""}
	s.acc(stage).observe(r, b)
	if inst != "" {
		s.acc(scope{r.Stack, r.Stage, inst}).observe(r, b)
	}
	t := s.totals[stage]
	if t == nil {
		t = &stageTotals{}
		s.totals[stage] = t
	}
	if c := r.Status/100 - 1; c >= 0 && c < 5 {
		t.class[c]++
	} else {
		t.other++
	}
	if r.Throttled {
		t.throttles++
	}
	if r.ColdStart {
		t.cold++
	}
	t.buckets[b]++
	t.count++
	t.sumSec += r.Latency.Seconds()
	s.reqMu.Unlock()
}

func (s *Store) acc(sc scope) *reqAcc {
	a := s.reqs[sc]
	if a == nil {
		a = &reqAcc{}
		s.reqs[sc] = a
	}
	return a
}

func (a *reqAcc) observe(r Request, b int) {
	w := &a.win
	w.requests++
	if c := r.Status/100 - 1; c >= 0 && c < 5 {
		w.class[c]++
	}
	if r.Throttled {
		w.throttles++
	}
	if r.ColdStart {
		w.cold++
	}
	w.busy += r.Latency
	w.hist.n[b]++
	w.hist.count++
	w.hist.sumSec += r.Latency.Seconds()
}

// keepStages drops the /metrics totals of stages (and stacks) not in
// stages, deleted ones: their stored points stay until retention.
func (s *Store) keepStages(stages []StageInstances) {
	live := make(map[scope]bool, 2*len(stages))
	for _, st := range stages {
		live[scope{st.Stack, st.Stage, ""}] = true
		live[scope{st.Stack, "", ""}] = true
	}
	s.reqMu.Lock()
	for sc := range s.totals {
		if !live[sc] {
			delete(s.totals, sc)
		}
	}
	s.reqMu.Unlock()
	s.winMu.Lock()
	for k := range s.addTotals {
		if !live[scope{k.Stack, k.Stage, ""}] {
			delete(s.addTotals, k)
		}
	}
	s.winMu.Unlock()
}

// Set records a gauge's value for the open window (values set more than
// once in a window average).
func (s *Store) Set(k Key, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s.winMu.Lock()
	c := s.win[k]
	if c == nil {
		c = &cell{}
		s.win[k] = c
	}
	c.sum += v
	c.n++
	s.gaugesNow[k] = gaugeSample{v, s.now()}
	s.winMu.Unlock()
}

// Add adds to a counter in the open window.
func (s *Store) Add(k Key, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return
	}
	s.winMu.Lock()
	c := s.win[k]
	if c == nil {
		c = &cell{}
		s.win[k] = c
	}
	c.sum += v
	c.n++
	s.addTotals[k] += v
	s.winMu.Unlock()
}

// Run closes a window every 10 s, on the wall clock's 10 s boundaries,
// until ctx ends; then it closes the open window and flushes.
func (s *Store) Run(ctx context.Context) {
	for {
		now := s.now()
		next := now.Truncate(FineStep).Add(FineStep)
		t := time.NewTimer(next.Sub(now) + 50*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.closeWindow(fineSlot(s.now()) - 1)
	}
}

// Close closes the open window (as if it had ended now) and the segment
// files. The store must not be used after.
func (s *Store) Close() error {
	s.closeWindow(fineSlot(s.now()))
	if s.segs != nil {
		return s.segs.close()
	}
	return nil
}

// point is a closed value of a series at a slot of its tier.
type point struct {
	key  Key
	kind Kind
	slot int64
	v    float32
}

// closeWindow turns what was accumulated into points at fine slot slot
// and, when slot ends a 5 min period, makes that period's coarse points.
// A slot already closed is not closed again.
func (s *Store) closeWindow(slot int64) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if slot <= s.closedSlot.Load() {
		return
	}
	prev := s.closedSlot.Swap(slot)
	// The 5 min periods this close completes: normally none or one; more
	// when closes were missed (the server was down, or the clock jumped),
	// as far back as 10 s points are kept.
	firstP := max(floorDiv(prev+1, finePerCoarse), floorDiv(slot-int64(FineRetention/FineStep), finePerCoarse))
	lastP := floorDiv(slot+1, finePerCoarse) - 1
	endsPeriod := lastP >= firstP
	var pts []point
	var fives map[scope][3]float64
	type stageHist struct {
		sc scope
		h  hist
	}
	var hists []stageHist
	s.reqMu.Lock()
	for sc, a := range s.reqs {
		w := &a.win
		if w.requests == 0 {
			a.idle++
		} else {
			a.idle = 0
			pts = append(pts, w.points(sc, slot, FineStep)...)
			if sc.instance == "" {
				hists = append(hists, stageHist{sc, w.hist})
			}
			a.five.merge(&w.hist)
			a.win = reqWindow{}
		}
		if endsPeriod && a.five.count > 0 {
			if fives == nil {
				fives = map[scope][3]float64{}
			}
			fives[sc] = [3]float64{a.five.quantile(.5), a.five.quantile(.9), a.five.quantile(.99)}
			a.five.reset()
		}
		if a.idle > int(finePerCoarse) && a.five.count == 0 {
			delete(s.reqs, sc) // idle: forget until it serves again
		}
	}
	s.reqMu.Unlock()
	s.winMu.Lock()
	win := s.win
	s.win = make(map[Key]*cell, len(win))
	for k, g := range s.gaugesNow {
		if s.now().Sub(g.t) > 3*FineStep {
			delete(s.gaugesNow, k) // an instance gone
		}
	}
	s.winMu.Unlock()
	for k, c := range win {
		mi, ok := Lookup(k.Metric)
		if !ok {
			continue
		}
		v := c.sum
		if mi.Kind == Gauge {
			v /= float64(c.n)
		} else if v == 0 {
			continue
		}
		pts = append(pts, point{k, mi.Kind, slot, quantize(k.Metric, v)})
	}
	s.mu.Lock()
	pts = s.applyLocked(pts, false)
	for _, sh := range hists {
		if _, kept := s.series[Key{sh.sc.stack, sh.sc.stage, "", P99Latency}]; !kept {
			continue // past the series cap
		}
		l := s.hists[sh.sc]
		if l == nil {
			l = &histLog{}
			s.hists[sh.sc] = l
		}
		l.add(slot, &sh.h)
	}
	var coarse [][]point
	for p := firstP; p <= lastP; p++ {
		var q map[scope][3]float64
		if p == lastP {
			q = fives // the histograms merged since the last close
		}
		if cp := s.applyLocked(s.coarsePointsLocked(p, q), true); len(cp) > 0 {
			coarse = append(coarse, cp)
		}
	}
	if endsPeriod {
		s.retainLocked(slot)
	}
	s.mu.Unlock()
	if s.segs != nil {
		if err := s.segs.write(false, slot, pts); err != nil {
			s.log.Warn("write metrics", "err", err)
		}
		for _, cp := range coarse {
			if err := s.segs.write(true, cp[0].slot, cp); err != nil {
				s.log.Warn("write metrics", "err", err)
			}
		}
		if endsPeriod {
			s.segs.prune(s.now())
		}
	}
}

// instanceMetrics are the request metrics kept per instance (a stage
// keeps them all): enough to spot the instance that is slow or failing,
// at a third of the memory.
var instanceMetrics = map[string]bool{Requests: true, Status5xx: true, P99Latency: true}

// points are a window's values for a stage or instance. Latency and
// concurrency are absent for a window without requests; counters are
// stored only when not zero.
func (w *reqWindow) points(sc scope, slot int64, period time.Duration) []point {
	key := func(m string) Key { return Key{sc.stack, sc.stage, sc.instance, m} }
	out := make([]point, 0, 12)
	add := func(m string, kind Kind, v float64) {
		if kind == Counter && v == 0 || sc.instance != "" && !instanceMetrics[m] {
			return
		}
		out = append(out, point{key(m), kind, slot, quantize(m, v)})
	}
	add(Requests, Counter, float64(w.requests))
	for i, m := range []string{Status2xx, Status3xx, Status4xx, Status5xx} {
		add(m, Counter, float64(w.class[i+1]))
	}
	add(Throttles, Counter, float64(w.throttles))
	add(ColdStarts, Counter, float64(w.cold))
	add(Concurrency, Gauge, w.busy.Seconds()/period.Seconds())
	add(P50Latency, Latency, w.hist.quantile(.5))
	add(P90Latency, Latency, w.hist.quantile(.9))
	add(P99Latency, Latency, w.hist.quantile(.99))
	return out
}

// coarsePointsLocked makes coarse slot cs's points from the fine points
// of its period: counters sum, gauges average, latency quantiles come from
// the period's merged histograms (fives), or, for a period the server
// was restarted in, the largest fine quantile.
func (s *Store) coarsePointsLocked(cs int64, fives map[scope][3]float64) []point {
	from, to := cs*finePerCoarse, (cs+1)*finePerCoarse
	var out []point
	for k, se := range s.series {
		if se.last < from {
			continue
		}
		var sum, mx float64
		n := 0
		mx = math.Inf(-1)
		se.fine.each(from, to, func(_ int64, v float32) {
			sum += float64(v)
			mx = max(mx, float64(v))
			n++
		})
		if n == 0 {
			continue
		}
		v := sum
		switch se.kind {
		case Gauge:
			v = sum / float64(n)
			if k.Metric == Concurrency {
				v = sum / float64(finePerCoarse) // busy time over the whole period
			}
		case Latency:
			v = mx
			if q, ok := fives[scope{k.Stack, k.Stage, k.Instance}]; ok {
				switch k.Metric {
				case P50Latency:
					v = q[0]
				case P90Latency:
					v = q[1]
				case P99Latency:
					v = q[2]
				}
			}
		}
		out = append(out, point{k, se.kind, cs, quantize(k.Metric, v)})
	}
	return out
}

// applyLocked stores points (fine or coarse), creating series up to the
// cap, and returns those stored.
func (s *Store) applyLocked(pts []point, coarse bool) []point {
	kept := pts[:0]
	for _, p := range pts {
		se := s.series[p.key]
		if se == nil {
			if len(s.series) >= s.cfg.MaxSeries {
				s.dropped++
				continue
			}
			se = &series{kind: p.kind, last: math.MinInt64}
			s.series[p.key] = se
		}
		if coarse {
			se.coarse.set(p.slot, coarseChunk, p.v)
		} else {
			se.fine.set(p.slot, fineChunk, p.v)
			se.last = max(se.last, p.slot)
		}
		first, last := spanSlots(p.slot, coarse)
		s.extend(scope{p.key.Stack, p.key.Stage, p.key.Instance}, first, last)
		if p.key.Instance != "" {
			s.extend(scope{p.key.Stack, p.key.Stage, ""}, first, last)
		}
		if p.key.Stage != "" {
			s.extend(scope{p.key.Stack, "", ""}, first, last)
		}
		kept = append(kept, p)
	}
	if s.dropped > 0 && time.Since(s.warnedCap) > time.Minute {
		s.log.Warn(fmt.Sprintf("metrics series cap of %d reached: dropped %d points of new series", s.cfg.MaxSeries, s.dropped),
			"series", len(s.series))
		s.warnedCap, s.dropped = time.Now(), 0
	}
	return kept
}

// spanSlots are the fine slots a point extends its spans with: its own
// for a 10 s point; for a 5 min point, at most the period's last slot
// as first and its first slot as last, so that the period's fine points
// say where in it the data starts and ends (a stage that first had data
// mid-period does not read counter zeros from the period's start). A
// span of 5 min points alone is so inverted within its end periods;
// coarse reads round both ends down to the right periods, and fine reads
// find it empty, as it is.
func spanSlots(slot int64, coarse bool) (first, last int64) {
	if coarse {
		return (slot+1)*finePerCoarse - 1, slot * finePerCoarse
	}
	return slot, slot
}

func (s *Store) extend(sc scope, first, last int64) {
	sp := s.spans[sc]
	if sp == nil {
		s.spans[sc] = &span{first, last}
		return
	}
	sp.first, sp.last = min(sp.first, first), max(sp.last, last)
}

// replay stores one segment file's points (under s.mu), resolving each
// series and its spans once per file rather than once per point.
type replay struct {
	s       *Store
	coarse  bool
	refs    []*replayRef // by ref: writers number series 1, 2, 3...
	maxFine *int64       // the last fine slot read
}

type replayRef struct {
	key    Key
	se     *series // nil: unknown metric, or past the cap
	scopes []scope
	spans  []*span
}

func (r *replay) define(ref uint64, k Key) {
	rr := &replayRef{key: k}
	if ref > 1<<24 {
		return // not a ref a writer makes; its points fail as undefined
	}
	for uint64(len(r.refs)) <= ref {
		r.refs = append(r.refs, nil)
	}
	r.refs[ref] = rr
	mi, ok := Lookup(k.Metric)
	if !ok {
		return
	}
	s := r.s
	if rr.se = s.series[k]; rr.se == nil {
		if len(s.series) >= s.cfg.MaxSeries {
			s.dropped++
			return
		}
		rr.se = &series{kind: mi.Kind, last: math.MinInt64}
		s.series[k] = rr.se
	}
	rr.scopes = append(rr.scopes, scope{k.Stack, k.Stage, k.Instance})
	if k.Instance != "" {
		rr.scopes = append(rr.scopes, scope{k.Stack, k.Stage, ""})
	}
	if k.Stage != "" {
		rr.scopes = append(rr.scopes, scope{k.Stack, "", ""})
	}
	rr.spans = make([]*span, len(rr.scopes))
}

func (r *replay) point(ref uint64, slot int64, v float32) bool {
	if ref >= uint64(len(r.refs)) || r.refs[ref] == nil {
		return false
	}
	rr := r.refs[ref]
	if rr.se == nil {
		return true
	}
	if r.coarse {
		rr.se.coarse.set(slot, coarseChunk, v)
	} else {
		rr.se.fine.set(slot, fineChunk, v)
		rr.se.last = max(rr.se.last, slot)
		*r.maxFine = max(*r.maxFine, slot)
	}
	first, last := spanSlots(slot, r.coarse)
	for i, sp := range rr.spans {
		if sp == nil {
			if sp = r.s.spans[rr.scopes[i]]; sp == nil {
				sp = &span{first, last}
				r.s.spans[rr.scopes[i]] = sp
			}
			rr.spans[i] = sp
		}
		sp.first, sp.last = min(sp.first, first), max(sp.last, last)
	}
	return true
}

// retainLocked drops points past retention, and series (an instance gone
// for longer than the retention, say) left without any.
func (s *Store) retainLocked(slot int64) {
	fineMin := slot - int64(FineRetention/FineStep)
	coarseMin := floorDiv(slot, finePerCoarse) - int64(CoarseRetention/CoarseStep)
	for k, se := range s.series {
		se.fine.dropBefore(fineMin)
		se.coarse.dropBefore(coarseMin)
		if len(se.fine.chunks) == 0 && len(se.coarse.chunks) == 0 {
			delete(s.series, k)
		}
	}
	for sc, l := range s.hists {
		if l.dropBefore(fineMin); len(l.chunks) == 0 {
			delete(s.hists, sc)
		}
	}
	for sc, sp := range s.spans {
		if sp.last < coarseMin*finePerCoarse {
			delete(s.spans, sc)
		} else if sp.first < coarseMin*finePerCoarse {
			sp.first = coarseMin * finePerCoarse
		}
	}
}

// Len is the number of series kept.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.series)
}

// Bytes estimates the memory the kept points use.
func (s *Store) Bytes() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := 0
	for k, se := range s.series {
		b += 64 + len(k.Stack) + len(k.Stage) + len(k.Instance) + len(k.Metric) + se.fine.bytes() + se.coarse.bytes()
	}
	for _, l := range s.hists {
		b += l.bytes()
	}
	return b
}
