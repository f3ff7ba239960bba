package limit

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// clock is an injected, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// countingStore counts calls to a MemoryQuotas and can be made to fail.
type countingStore struct {
	mem   *MemoryQuotas
	calls atomic.Int64
	fail  atomic.Bool
}

func newCountingStore() *countingStore { return &countingStore{mem: NewMemoryQuotas()} }

func (s *countingStore) Add(ctx context.Context, key string, start time.Time, n int64) (int64, error) {
	s.calls.Add(1)
	if s.fail.Load() {
		return 0, errors.New("database is locked")
	}
	return s.mem.Add(ctx, key, start, n)
}

func (s *countingStore) total(t *testing.T, key string, start time.Time) int64 {
	t.Helper()
	n, err := s.mem.Add(context.Background(), key, start, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	ctx = context.Background()
	// Monday 9 March 2026, 12:00 UTC.
	noon = time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	// A stage bucket that never gets in the way.
	wide = core.Throttle{Rate: 1e6, Burst: 1e6}
)

func quota(limit int64, period string) *core.Quota { return &core.Quota{Limit: limit, Period: period} }

func mustNew(t *testing.T, stage core.Throttle, plans map[string]core.UsagePlan, q QuotaStore, now func() time.Time) *Limiter {
	t.Helper()
	l, err := New(stage, plans, q, now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name  string
		stage core.Throttle
		plans map[string]core.UsagePlan
		want  string
	}{
		{"stage rate", core.Throttle{Rate: -1, Burst: 5}, nil, "stage throttle: rate -1: want requests per second above 0"},
		{"stage burst", core.Throttle{Rate: 10}, nil, "stage throttle: burst 0: want at least 1"},
		{"stage NaN", core.Throttle{Rate: math.NaN(), Burst: 1}, nil, "stage throttle: rate NaN"},
		{"stage Inf", core.Throttle{Rate: math.Inf(1), Burst: 1}, nil, "stage throttle: rate +Inf"},
		{"plan rate", wide, map[string]core.UsagePlan{"gold": {Throttle: core.Throttle{Burst: 3}}},
			`usage plan "gold": throttle: rate 0: want requests per second above 0`},
		{"plan burst", wide, map[string]core.UsagePlan{"gold": {Throttle: core.Throttle{Rate: 3, Burst: -1}}},
			`usage plan "gold": throttle: burst -1: want at least 1`},
		{"quota limit", wide, map[string]core.UsagePlan{"free": {Quota: quota(0, core.QuotaDay)}},
			`usage plan "free": quota limit 0: want at least 1`},
		{"quota period", wide, map[string]core.UsagePlan{"free": {Quota: quota(10, "year")}},
			`usage plan "free": quota period "year": want day, week or month`},
		{"first plan by name", wide, map[string]core.UsagePlan{
			"b": {Quota: quota(0, core.QuotaDay)}, "a": {Quota: quota(1, "DAY")}},
			`usage plan "a": quota period "DAY"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.stage, tc.plans, nil, nil)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
			if core.CodeOf(err) != core.CodeInvalid {
				t.Errorf("code %q, want invalid", core.CodeOf(err))
			}
		})
	}
}

func TestNewDefaultsAndAccepts(t *testing.T) {
	l := mustNew(t, core.Throttle{}, map[string]core.UsagePlan{
		"quota-only": {Quota: quota(5, core.QuotaMonth)},
		"rate-only":  {Throttle: core.Throttle{Rate: 0.5, Burst: 1}},
		"nothing":    {},
	}, nil, nil)
	if l.stage.Limit() != core.DefaultStageRate || l.stage.Burst() != core.DefaultStageBurst {
		t.Errorf("default stage bucket %v/%d", l.stage.Limit(), l.stage.Burst())
	}
}

// Requests spread evenly over one second of injected time: the bucket
// admits its burst plus rate × 1 s (±1 for float rounding at the last
// token), whatever the machine's speed.
func TestRateOverOneSecond(t *testing.T) {
	fifty := core.Throttle{Rate: 50, Burst: 10}
	cases := []struct {
		name        string
		stage       core.Throttle
		plans       map[string]core.UsagePlan
		key, plan   string
		minOK, maxO int
	}{
		{"stage bucket", fifty, nil, "", "", 59, 61},
		{"key bucket", wide, map[string]core.UsagePlan{"p": {Throttle: fifty}}, "k1", "p", 59, 61},
		{"key under a tighter stage", core.Throttle{Rate: 20, Burst: 5}, map[string]core.UsagePlan{"p": {Throttle: fifty}}, "k1", "p", 24, 26},
		{"unknown plan: stage only", fifty, map[string]core.UsagePlan{"p": {Throttle: core.Throttle{Rate: 1, Burst: 1}}}, "k1", "other", 59, 61},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(noon)
			l := mustNew(t, tc.stage, tc.plans, nil, clk.now)
			ok, rate := 0, 0
			for range 1001 { // one every millisecond, from 0 to 1 s inclusive
				switch d := l.Allow(ctx, tc.key, tc.plan); {
				case d.OK:
					ok++
				case d.Reason == ReasonRate:
					rate++
				default:
					t.Fatalf("unexpected decision %+v", d)
				}
				clk.add(time.Millisecond)
			}
			t.Logf("admitted %d", ok)
			if ok < tc.minOK || ok > tc.maxO || ok+rate != 1001 {
				t.Errorf("admitted %d, refused %d; want %d–%d admitted", ok, rate, tc.minOK, tc.maxO)
			}
		})
	}
}

// Many goroutines at one frozen instant: exactly the burst gets through.
func TestRateConcurrentBurst(t *testing.T) {
	clk := newClock(noon)
	l := mustNew(t, core.Throttle{Rate: 100, Burst: 100}, map[string]core.UsagePlan{
		"p": {Throttle: core.Throttle{Rate: 1, Burst: 10}, Quota: quota(1000, core.QuotaDay)},
	}, nil, clk.now)
	var keyOK, anonOK atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for range 50 {
				if l.Allow(ctx, "k1", "p").OK {
					keyOK.Add(1)
				}
				if g%2 == 0 && l.Allow(ctx, "", "").OK {
					anonOK.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if keyOK.Load() != 10 {
		t.Errorf("key admitted %d, want its burst 10", keyOK.Load())
	}
	if anonOK.Load() != 90 {
		t.Errorf("anonymous admitted %d, want the stage burst 100 less the key's 10", anonOK.Load())
	}
}

// A key over its own rate or quota does not use up the stage bucket.
func TestKeyRefusalsSpareTheStage(t *testing.T) {
	clk := newClock(noon)
	l := mustNew(t, core.Throttle{Rate: 0.001, Burst: 5}, map[string]core.UsagePlan{
		"rate":  {Throttle: core.Throttle{Rate: 0.001, Burst: 1}},
		"quota": {Quota: quota(1, core.QuotaDay)},
	}, nil, clk.now)
	for range 100 {
		l.Allow(ctx, "k1", "rate")
		l.Allow(ctx, "k2", "quota")
	}
	ok := 0
	for range 10 {
		if l.Allow(ctx, "", "").OK {
			ok++
		}
	}
	if ok != 3 {
		t.Errorf("anonymous admitted %d after the keys' floods, want 3 (burst 5 less one request per key)", ok)
	}
}

func TestRetryAfterRate(t *testing.T) {
	cases := []struct {
		name  string
		rate  float64
		after time.Duration // clock advance after the first request
		want  time.Duration
	}{
		{"2 per second", 2, 0, 500 * time.Millisecond},
		{"2 per second, 200ms later", 2, 200 * time.Millisecond, 300 * time.Millisecond},
		{"one per 10 s", 0.1, 0, 10 * time.Second},
		{"one per 10 s, 2.5 s later", 0.1, 2500 * time.Millisecond, 7500 * time.Millisecond},
	}
	for _, tc := range cases {
		for _, keyed := range []bool{false, true} {
			name := tc.name + map[bool]string{false: " (stage)", true: " (key)"}[keyed]
			t.Run(name, func(t *testing.T) {
				clk := newClock(noon)
				bucket := core.Throttle{Rate: tc.rate, Burst: 1}
				stage, key := bucket, ""
				if keyed {
					stage, key = wide, "k1"
				}
				l := mustNew(t, stage, map[string]core.UsagePlan{"p": {Throttle: bucket}}, nil, clk.now)
				if d := l.Allow(ctx, key, "p"); !d.OK {
					t.Fatalf("first request refused: %+v", d)
				}
				clk.add(tc.after)
				d := l.Allow(ctx, key, "p")
				if d.OK || d.Reason != ReasonRate || d.Remaining != -1 {
					t.Fatalf("second request: %+v, want refused for rate", d)
				}
				if diff := d.RetryAfter - tc.want; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("RetryAfter %v, want %v", d.RetryAfter, tc.want)
				}
				clk.add(d.RetryAfter)
				if d := l.Allow(ctx, key, "p"); !d.OK {
					t.Errorf("after RetryAfter: %+v, want admitted", d)
				}
			})
		}
	}
}

// A quota runs out, says when it resets, and resets at the UTC boundary
// of its period.
func TestQuotaPeriods(t *testing.T) {
	cases := []struct {
		period string
		at     time.Time // first requests
		reset  time.Time // the period's end
	}{
		{core.QuotaDay, time.Date(2026, 3, 9, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)},
		// Sunday 15 March, 23:00 → Monday 16 March.
		{core.QuotaWeek, time.Date(2026, 3, 15, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		// Wednesday → the next Monday.
		{core.QuotaWeek, time.Date(2026, 3, 11, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)},
		{core.QuotaMonth, time.Date(2026, 2, 28, 22, 30, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{core.QuotaMonth, time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.period+" "+tc.at.Format(time.DateTime), func(t *testing.T) {
			clk := newClock(tc.at)
			l := mustNew(t, wide, map[string]core.UsagePlan{"p": {Quota: quota(3, tc.period)}}, nil, clk.now)
			for i, want := range []int64{2, 1, 0} {
				if d := l.Allow(ctx, "k1", "p"); !d.OK || d.Remaining != want {
					t.Fatalf("request %d: %+v, want admitted with %d remaining", i+1, d, want)
				}
			}
			d := l.Allow(ctx, "k1", "p")
			if d.OK || d.Reason != ReasonQuota || d.Remaining != 0 || d.RetryAfter != tc.reset.Sub(tc.at) {
				t.Fatalf("4th request: %+v, want quota with RetryAfter %v", d, tc.reset.Sub(tc.at))
			}
			if d := l.Allow(ctx, "k2", "p"); !d.OK {
				t.Errorf("another key: %+v, want admitted", d)
			}
			clk.set(tc.reset.Add(-time.Nanosecond))
			if d := l.Allow(ctx, "k1", "p"); d.OK || d.RetryAfter != time.Nanosecond {
				t.Errorf("just before the reset: %+v, want refused for 1ns", d)
			}
			clk.set(tc.reset)
			if d := l.Allow(ctx, "k1", "p"); !d.OK || d.Remaining != 2 {
				t.Errorf("at the reset: %+v, want admitted with 2 remaining", d)
			}
		})
	}
}

// A request the stage refuses gives its quota unit back.
func TestStageRefusalGivesQuotaBack(t *testing.T) {
	clk := newClock(noon)
	l := mustNew(t, core.Throttle{Rate: 1, Burst: 1}, map[string]core.UsagePlan{"p": {Quota: quota(10, core.QuotaDay)}}, nil, clk.now)
	if d := l.Allow(ctx, "k1", "p"); !d.OK || d.Remaining != 9 {
		t.Fatalf("first: %+v", d)
	}
	if d := l.Allow(ctx, "k1", "p"); d.OK || d.Reason != ReasonRate {
		t.Fatalf("second: %+v, want stage rate", d)
	}
	clk.add(time.Second)
	if d := l.Allow(ctx, "k1", "p"); !d.OK || d.Remaining != 8 {
		t.Errorf("third: %+v, want 8 remaining", d)
	}
}

// Requests are counted in memory: the store sees one read per key and
// period and one write per Flush, and the totals survive a new Limiter.
func TestQuotaBatchesAndSurvivesRestart(t *testing.T) {
	clk := newClock(noon)
	store := newCountingStore()
	plans := map[string]core.UsagePlan{"p": {Quota: quota(1000, core.QuotaMonth)}}
	start, _ := Period(core.QuotaMonth, noon)

	a := mustNew(t, wide, plans, store, clk.now)
	for range 600 {
		if !a.Allow(ctx, "k1", "p").OK {
			t.Fatal("refused under the quota")
		}
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("store calls during 600 requests: %d, want 1 (the load)", n)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil { // nothing new: no call
		t.Fatal(err)
	}
	if n := store.calls.Load(); n != 2 {
		t.Errorf("store calls after two flushes: %d, want 2", n)
	}
	if got := store.total(t, "k1", start); got != 600 {
		t.Errorf("stored %d, want 600", got)
	}

	b := mustNew(t, wide, plans, store, clk.now) // a restart
	ok := 0
	for range 500 {
		if b.Allow(ctx, "k1", "p").OK {
			ok++
		}
	}
	if ok != 400 {
		t.Errorf("after a restart admitted %d, want the 400 left", ok)
	}
	// What b admitted but never flushed is lost in a crash: c over-admits
	// by exactly that much, the documented bound.
	c := mustNew(t, wide, plans, store, clk.now)
	if d := c.Allow(ctx, "k1", "p"); !d.OK || d.Remaining != 399 {
		t.Errorf("after a crash: %+v, want 399 remaining (b's 400 unflushed)", d)
	}
}

// A failing store neither blocks requests nor loses counts: the quota is
// enforced on local counts and Flush retries.
func TestQuotaStoreFailure(t *testing.T) {
	clk := newClock(noon)
	store := newCountingStore()
	start, _ := Period(core.QuotaDay, noon)
	if _, err := store.Add(ctx, "k1", start, 2); err != nil { // from before a restart
		t.Fatal(err)
	}
	store.calls.Store(0)
	store.fail.Store(true)
	l := mustNew(t, wide, map[string]core.UsagePlan{"p": {Quota: quota(5, core.QuotaDay)}}, store, clk.now)
	ok := 0
	for range 10 {
		if l.Allow(ctx, "k1", "p").OK {
			ok++
		}
	}
	if ok != 5 || store.calls.Load() != 1 {
		t.Errorf("store down: admitted %d with %d store calls, want 5 (local count) and 1", ok, store.calls.Load())
	}
	if err := l.Flush(ctx); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Flush with the store down: %v", err)
	}
	store.fail.Store(false)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.total(t, "k1", start); got != 7 {
		t.Errorf("stored %d, want 7 (2 before, 5 while down)", got)
	}
	if d := l.Allow(ctx, "k1", "p"); d.OK {
		t.Errorf("over the stored total: %+v, want refused", d)
	}
}

// Counts of a period that ended before a Flush go to that period.
func TestQuotaRollBeforeFlush(t *testing.T) {
	clk := newClock(time.Date(2026, 3, 9, 23, 59, 0, 0, time.UTC))
	store := newCountingStore()
	l := mustNew(t, wide, map[string]core.UsagePlan{"p": {Quota: quota(10, core.QuotaDay)}}, store, clk.now)
	l.Allow(ctx, "k1", "p")
	l.Allow(ctx, "k1", "p")
	clk.add(2 * time.Minute)
	l.Allow(ctx, "k1", "p")
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	if a, b := store.total(t, "k1", day1), store.total(t, "k1", day1.AddDate(0, 0, 1)); a != 2 || b != 1 {
		t.Errorf("stored %d and %d, want 2 and 1", a, b)
	}
}

// A key whose plan changes starts afresh; the old counts still reach the
// store.
func TestPlanChange(t *testing.T) {
	clk := newClock(noon)
	store := newCountingStore()
	l := mustNew(t, wide, map[string]core.UsagePlan{
		"small": {Quota: quota(2, core.QuotaDay)},
		"big":   {Quota: quota(5, core.QuotaDay)},
	}, store, clk.now)
	l.Allow(ctx, "k1", "small")
	l.Allow(ctx, "k1", "small")
	if d := l.Allow(ctx, "k1", "big"); !d.OK {
		t.Fatalf("after the change: %+v", d)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	start, _ := Period(core.QuotaDay, noon)
	if got := store.total(t, "k1", start); got != 3 {
		t.Errorf("stored %d, want 3", got)
	}
	if len(l.retired) != 0 {
		t.Errorf("%d retired keys kept after a flush", len(l.retired))
	}
}

func TestRunFlushesOnStop(t *testing.T) {
	store := newCountingStore()
	l := mustNew(t, wide, map[string]core.UsagePlan{"p": {Quota: quota(10, core.QuotaDay)}}, store, nil)
	l.Allow(ctx, "k1", "p")
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.Run(c, nil); close(done) }()
	cancel()
	<-done
	start, _ := Period(core.QuotaDay, time.Now())
	if got := store.total(t, "k1", start); got != 1 {
		t.Errorf("stored %d after Run stopped, want 1", got)
	}
}

func TestPeriod(t *testing.T) {
	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, time.UTC) }
	cases := []struct {
		kind       string
		at         time.Time
		start, end time.Time
	}{
		{core.QuotaDay, d(2026, 3, 9, 12), d(2026, 3, 9, 0), d(2026, 3, 10, 0)},
		{core.QuotaDay, d(2026, 3, 9, 0), d(2026, 3, 9, 0), d(2026, 3, 10, 0)},
		{core.QuotaDay, d(2026, 12, 31, 23), d(2026, 12, 31, 0), d(2027, 1, 1, 0)},
		// 01:00 on the 10th at UTC+5 is 20:00 on the 9th UTC.
		{core.QuotaDay, time.Date(2026, 3, 10, 1, 0, 0, 0, time.FixedZone("", 5*3600)), d(2026, 3, 9, 0), d(2026, 3, 10, 0)},
		{core.QuotaWeek, d(2026, 3, 9, 0), d(2026, 3, 9, 0), d(2026, 3, 16, 0)},   // Monday
		{core.QuotaWeek, d(2026, 3, 15, 23), d(2026, 3, 9, 0), d(2026, 3, 16, 0)}, // Sunday
		{core.QuotaWeek, d(2026, 1, 1, 5), d(2025, 12, 29, 0), d(2026, 1, 5, 0)},  // across a year
		{core.QuotaMonth, d(2028, 2, 29, 8), d(2028, 2, 1, 0), d(2028, 3, 1, 0)},  // leap day
		{core.QuotaMonth, d(2026, 12, 1, 0), d(2026, 12, 1, 0), d(2027, 1, 1, 0)},
	}
	for _, tc := range cases {
		start, end := Period(tc.kind, tc.at)
		if !start.Equal(tc.start) || !end.Equal(tc.end) || start.Location() != time.UTC {
			t.Errorf("Period(%s, %s) = %s, %s; want %s, %s", tc.kind, tc.at, start, end, tc.start, tc.end)
		}
	}
}

// The request path allocates nothing once a key has been seen.
func TestAllowDoesNotAllocate(t *testing.T) {
	clk := newClock(noon)
	l := mustNew(t, wide, map[string]core.UsagePlan{
		"p": {Throttle: core.Throttle{Rate: 1e9, Burst: 1e9}, Quota: quota(1e12, core.QuotaMonth)},
	}, nil, clk.now)
	l.Allow(ctx, "k1", "p")
	for _, tc := range []struct{ key, plan string }{{"k1", "p"}, {"", ""}} {
		if n := testing.AllocsPerRun(1000, func() { l.Allow(ctx, tc.key, tc.plan) }); n != 0 {
			t.Errorf("Allow(%q, %q): %v allocations per request", tc.key, tc.plan, n)
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(core.Throttle{Rate: 1e9, Burst: 1e9}, map[string]core.UsagePlan{
		"p": {Throttle: core.Throttle{Rate: 1e9, Burst: 1e9}, Quota: quota(1e15, core.QuotaMonth)},
	}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(ctx, keys[i%len(keys)], "p")
			i++
		}
	})
}
