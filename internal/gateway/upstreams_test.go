package gateway

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundRobinDistributes(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}, {ID: "c", Addr: "c:1"}}}
	other := &Route{Host: "prod.hello.localhost", Backends: []Backend{{ID: "x", Addr: "x:1"}, {ID: "y", Addr: "y:1"}}}

	counts := map[string]int{}
	var order []string
	for i := 0; i < 300; i++ {
		b, release, err := rr.Acquire(context.Background(), route)
		if err != nil {
			t.Fatal(err)
		}
		if release != nil {
			release()
		}
		counts[b.ID]++
		if i < 6 {
			order = append(order, b.ID)
		}
		// Another route's traffic must not disturb this one's rotation.
		if _, _, err := rr.Acquire(context.Background(), other); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		if counts[id] != 100 {
			t.Fatalf("counts = %v, want 100 each", counts)
		}
	}
	if got := order; got[0] != "a" || got[1] != "b" || got[2] != "c" || got[3] != "a" {
		t.Fatalf("order = %v, want a b c a ...", got)
	}
}

func TestRoundRobinConcurrent(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}}}
	const workers, each = 8, 1000
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			local := map[string]int{}
			for i := 0; i < each; i++ {
				b, _, err := rr.Acquire(context.Background(), route)
				if err != nil {
					t.Error(err)
					return
				}
				local[b.ID]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts["a"] != workers*each/2 || counts["b"] != workers*each/2 {
		t.Fatalf("counts = %v, want an exact split", counts)
	}
}

func TestRoundRobinEmpty(t *testing.T) {
	_, _, err := RoundRobin().Acquire(context.Background(), &Route{Host: "dev.hello.localhost"})
	if !errors.Is(err, ErrNoBackend) {
		t.Fatalf("err = %v, want ErrNoBackend", err)
	}
}

func TestRoundRobinDoesNotAllocate(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}}}
	ctx := context.Background()
	_, _, _ = rr.Acquire(ctx, route)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = rr.Acquire(ctx, route) }); n != 0 {
		t.Fatalf("Acquire allocates %v times per call", n)
	}
}

// fakeClock drives a balancer's skips in tests.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) read() time.Duration     { return time.Duration(c.now.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.now.Add(int64(d)) }

func newTestRoundRobin(skip time.Duration) (*balancer, *fakeClock) {
	rr := newBalancer(byRoundRobin, skip)
	clock := &fakeClock{}
	clock.advance(time.Hour)
	rr.now = clock.read
	return rr, clock
}

func threeBackends() *Route {
	return &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}, {ID: "c", Addr: "c:1"}}}
}

func countAcquires(t *testing.T, up Upstreams, r *Route, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		b, _, err := up.Acquire(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		counts[b.ID]++
	}
	return counts
}

func TestRoundRobinSkipsFailedBackend(t *testing.T) {
	rr, clock := newTestRoundRobin(2 * time.Second)
	route := threeBackends()
	rr.Failed(route, route.Backends[1])

	// The others share b's turns evenly, rather than c taking them all.
	if got := countAcquires(t, rr, route, 100); got["b"] != 0 || got["a"] != 50 || got["c"] != 50 {
		t.Fatalf("while b is skipped: %v, want a and c 50 each", got)
	}
	clock.advance(1999 * time.Millisecond)
	if got := countAcquires(t, rr, route, 30); got["b"] != 0 {
		t.Fatalf("b served before its skip ended: %v", got)
	}
	clock.advance(time.Millisecond)
	if got := countAcquires(t, rr, route, 30); got["a"] != 10 || got["b"] != 10 || got["c"] != 10 {
		t.Fatalf("after the skip: %v, want 10 each", got)
	}
	if rr.host(route).skipped.Load() != nil {
		t.Fatal("expired skips kept: Acquire stays off its fast path")
	}
}

func TestRoundRobinSkipIsPerHost(t *testing.T) {
	rr, _ := newTestRoundRobin(time.Minute)
	dev, prod := threeBackends(), threeBackends()
	prod.Host = "prod.hello.localhost"
	rr.Failed(dev, dev.Backends[0])
	if got := countAcquires(t, rr, prod, 30); got["a"] != 10 {
		t.Fatalf("a failure on dev skipped a on prod: %v", got)
	}
}

func TestRoundRobinFailedRefreshesAndPrunes(t *testing.T) {
	rr, clock := newTestRoundRobin(time.Second)
	route := threeBackends()
	a, b := route.Backends[0], route.Backends[1]
	rr.Failed(route, a)
	clock.advance(800 * time.Millisecond)
	rr.Failed(route, b)
	rr.Failed(route, a) // a failed again: its skip starts over, one entry
	if got := len(*rr.host(route).skipped.Load()); got != 2 {
		t.Fatalf("%d skips, want 2", got)
	}
	clock.advance(500 * time.Millisecond) // past a's first skip, within its second
	if got := countAcquires(t, rr, route, 10); got["c"] != 10 {
		t.Fatalf("%v, want only c", got)
	}
	clock.advance(time.Second)
	rr.Failed(route, route.Backends[2]) // prunes the expired skips of a and b
	if got := *rr.host(route).skipped.Load(); len(got) != 1 || got[0].backend.ID != "c" {
		t.Fatalf("skips = %v, want only c's", got)
	}
}

func TestRoundRobinServesSkippedWhenNothingElse(t *testing.T) {
	rr, _ := newTestRoundRobin(time.Minute)
	route := threeBackends()
	for _, b := range route.Backends {
		rr.Failed(route, b)
	}
	if got := countAcquires(t, rr, route, 30); got["a"] != 10 || got["b"] != 10 || got["c"] != 10 {
		t.Fatalf("every backend skipped: %v, want the plain rotation", got)
	}
	single := &Route{Host: "one.hello.localhost", Backends: []Backend{{ID: "only", Addr: "o:1"}}}
	rr.Failed(single, single.Backends[0])
	if got := countAcquires(t, rr, single, 3); got["only"] != 3 {
		t.Fatalf("the only backend was skipped: %v", got)
	}
}

func TestRoundRobinSkipDisabled(t *testing.T) {
	rr, _ := newTestRoundRobin(-1)
	route := threeBackends()
	rr.Failed(route, route.Backends[0])
	if got := countAcquires(t, rr, route, 30); got["a"] != 10 {
		t.Fatalf("skip disabled, yet %v", got)
	}
}

func TestRoundRobinFailover(t *testing.T) {
	testFailoverContract(t, func() Failover { return RoundRobin().(Failover) })

	// RoundRobin specifics: skipped backends come last, and once every
	// backend was tried it refuses rather than repeat one.
	rr, _ := newTestRoundRobin(time.Minute)
	route := threeBackends()
	a, b, c := route.Backends[0], route.Backends[1], route.Backends[2]
	rr.Failed(route, b)
	for range 10 {
		if got, _, err := rr.AcquireExcept(context.Background(), route, []Backend{a}); err != nil || got != c {
			t.Fatalf("tried a, b skipped: got %v, %v; want c", got, err)
		}
	}
	if got, _, err := rr.AcquireExcept(context.Background(), route, []Backend{a, c}); err != nil || got != b {
		t.Fatalf("tried a and c: got %v, %v; want b though it is skipped", got, err)
	}
	if _, _, err := rr.AcquireExcept(context.Background(), route, []Backend{c, a, b}); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("every backend tried: err = %v, want ErrNoBackend", err)
	}
}

// testFailoverContract checks what the gateway relies on from any
// Failover: AcquireExcept never returns a tried backend while another
// exists, Failed never blocks or breaks Acquire, and an empty route is
// ErrNoBackend. Run it against every implementation.
func testFailoverContract(t *testing.T, newFailover func() Failover) {
	t.Helper()
	ctx := context.Background()
	t.Run("except", func(t *testing.T) {
		f := newFailover()
		route := threeBackends()
		for _, tried := range [][]Backend{
			{route.Backends[0]}, {route.Backends[1]}, {route.Backends[2]},
			{route.Backends[0], route.Backends[2]}, {route.Backends[2], route.Backends[1]},
		} {
			for range 6 {
				b, release, err := f.AcquireExcept(ctx, route, tried)
				if err != nil {
					t.Fatalf("tried %v: %v", tried, err)
				}
				if release != nil {
					release()
				}
				if slices.Contains(tried, b) {
					t.Fatalf("tried %v: got %v again", tried, b)
				}
			}
		}
	})
	t.Run("failed", func(t *testing.T) {
		f := newFailover()
		route := threeBackends()
		for _, b := range route.Backends {
			f.Failed(route, b)
			got, release, err := f.Acquire(ctx, route)
			if err != nil || got.Addr == "" {
				t.Fatalf("Acquire after Failed(%s): %v, %v", b.ID, got, err)
			}
			if release != nil {
				release()
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, _, err := newFailover().AcquireExcept(ctx, &Route{Host: "x.localhost"}, nil); !errors.Is(err, ErrNoBackend) {
			t.Fatalf("err = %v, want ErrNoBackend", err)
		}
	})
}

func TestRoundRobinSkippingDoesNotAllocate(t *testing.T) {
	rr, _ := newTestRoundRobin(time.Minute)
	route := threeBackends()
	ctx := context.Background()
	rr.Failed(route, route.Backends[1])
	tried := []Backend{route.Backends[0]}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = rr.Acquire(ctx, route) }); n != 0 {
		t.Fatalf("Acquire with a skipped backend allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = rr.AcquireExcept(ctx, route, tried) }); n != 0 {
		t.Fatalf("AcquireExcept allocates %v times per call", n)
	}
}

// TestRoundRobinFailedConcurrent races Failed against Acquire; run with
// -race. No acquire may return the backend skipped throughout.
func TestRoundRobinFailedConcurrent(t *testing.T) {
	rr := newBalancer(byRoundRobin, time.Minute)
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}, {ID: "c", Addr: "c:1"}, {ID: "d", Addr: "d:1"}}}
	rr.Failed(route, route.Backends[0])
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if w%2 == 0 && i%10 == 0 {
					rr.Failed(route, route.Backends[1+i%2]) // b and c fail, now and then
				}
				b, _, err := rr.Acquire(context.Background(), route)
				if err != nil {
					t.Error(err)
					return
				}
				if b.ID == "a" {
					t.Error("skipped backend a was acquired")
					return
				}
			}
		})
	}
	wg.Wait()
}

// hold acquires n requests on r from up and keeps them in flight; the
// returned func releases them.
func hold(t *testing.T, up Upstreams, r *Route, id string, n int) func() {
	t.Helper()
	var releases []func()
	for len(releases) < n {
		b, release, ok := up.(*balancer).acquirePinned(r, slices.IndexFunc(r.Backends, func(b Backend) bool { return b.ID == id }))
		if !ok || b.ID != id {
			t.Fatalf("hold %s: got %v, %v", id, b, ok)
		}
		releases = append(releases, release)
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

func TestLeastOutstandingPicks(t *testing.T) {
	tests := []struct {
		name     string
		inflight map[string]int // requests held per backend before the picks
		skipped  []string       // backends that Failed
		tried    []string       // AcquireExcept's argument; nil: Acquire
		want     []string       // successive picks, each released at once
		wantErr  bool
	}{
		{name: "idle: round robin", want: []string{"a", "b", "c", "a", "b", "c"}},
		{name: "the least loaded", inflight: map[string]int{"a": 2, "b": 1, "c": 3}, want: []string{"b", "b", "b"}},
		{name: "ties take turns", inflight: map[string]int{"b": 1}, want: []string{"a", "c", "a", "c"}},
		{name: "skipped avoided though idle", inflight: map[string]int{"a": 5, "c": 5}, skipped: []string{"b"}, want: []string{"a", "c", "a"}},
		{name: "all skipped: least of all", inflight: map[string]int{"a": 2, "c": 1}, skipped: []string{"a", "b", "c"}, want: []string{"b", "b"}},
		{name: "except tried", inflight: map[string]int{"c": 4}, tried: []string{"a"}, want: []string{"b", "b"}},
		{name: "except tried, skipped last", inflight: map[string]int{"c": 4}, skipped: []string{"b"}, tried: []string{"a"}, want: []string{"c", "c"}},
		{name: "except tried, skipped last resort", skipped: []string{"b"}, tried: []string{"a", "c"}, want: []string{"b"}},
		{name: "every backend tried", tried: []string{"a", "b", "c"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := newBalancer(byLeastOutstanding, time.Minute)
			r := threeBackends()
			byID := map[string]Backend{}
			for _, b := range r.Backends {
				byID[b.ID] = b
			}
			for id, n := range tt.inflight {
				defer hold(t, lo, r, id, n)()
			}
			for _, id := range tt.skipped {
				lo.Failed(r, byID[id])
			}
			var tried []Backend
			for _, id := range tt.tried {
				tried = append(tried, byID[id])
			}
			var got []string
			for range max(len(tt.want), 1) {
				var b Backend
				var release func()
				var err error
				if tt.tried == nil {
					b, release, err = lo.Acquire(context.Background(), r)
				} else {
					b, release, err = lo.AcquireExcept(context.Background(), r, tried)
				}
				if tt.wantErr {
					if !errors.Is(err, ErrNoBackend) {
						t.Fatalf("err = %v, want ErrNoBackend", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b.ID)
				release()
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("picks %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLeastOutstandingCounts(t *testing.T) {
	lo := newBalancer(byLeastOutstanding, time.Minute)
	r := threeBackends()
	ctx := context.Background()
	var releases []func()
	for range 6 {
		_, release, _ := lo.Acquire(ctx, r)
		releases = append(releases, release)
	}
	for _, b := range r.Backends {
		if n := lo.outstanding(b.Addr); n != 2 {
			t.Fatalf("%s: %d in flight, want 2", b.ID, n)
		}
	}

	// A new table: a new Route, a new slice, c gone, d new. The counts of
	// a and b carry over, so d takes the next requests.
	next := NewRouteTable([]Route{{Host: r.Host, Backends: []Backend{r.Backends[0], r.Backends[1], {ID: "d", Addr: "d:1"}}}})
	r2, _ := next.Lookup(r.Host)
	for range 2 {
		if b, release, _ := lo.Acquire(ctx, r2); b.ID != "d" {
			t.Fatalf("after the swap: got %s, want d", b.ID)
		} else {
			releases = append(releases, release)
		}
	}
	for _, release := range releases {
		release()
	}
	for _, addr := range []string{"a:1", "b:1", "c:1", "d:1"} {
		if n := lo.outstanding(addr); n != 0 {
			t.Fatalf("%s: %d in flight after every release", addr, n)
		}
	}
}

func TestLeastOutstandingDoesNotAllocate(t *testing.T) {
	lo := newBalancer(byLeastOutstanding, time.Minute)
	r := threeBackends()
	ctx := context.Background()
	tried := []Backend{r.Backends[0]}
	_, release, _ := lo.Acquire(ctx, r) // builds the host's counters
	release()
	if n := testing.AllocsPerRun(100, func() { _, release, _ := lo.Acquire(ctx, r); release() }); n != 0 {
		t.Fatalf("Acquire allocates %v times per call", n)
	}
	lo.Failed(r, r.Backends[1])
	if n := testing.AllocsPerRun(100, func() { _, release, _ := lo.Acquire(ctx, r); release() }); n != 0 {
		t.Fatalf("Acquire with a skipped backend allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, release, _ := lo.AcquireExcept(ctx, r, tried); release() }); n != 0 {
		t.Fatalf("AcquireExcept allocates %v times per call", n)
	}
}

func TestLeastOutstandingFailover(t *testing.T) {
	testFailoverContract(t, func() Failover { return LeastOutstanding().(Failover) })
	testFailoverContract(t, func() Failover { return newBalancer(byRoute, DefaultSkipFailedFor) })
}

func TestLeastOutstandingEmpty(t *testing.T) {
	if _, _, err := LeastOutstanding().Acquire(context.Background(), &Route{Host: "x.localhost"}); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("err = %v, want ErrNoBackend", err)
	}
}

// TestLeastOutstandingConcurrent has workers hold requests for random
// short times; run with -race. Counts never go negative, end at zero,
// and no backend is ever more than a few requests ahead of another,
// which round robin would not ensure with uneven request times.
func TestLeastOutstandingConcurrent(t *testing.T) {
	lo := newBalancer(byLeastOutstanding, time.Minute)
	r := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}, {ID: "c", Addr: "c:1"}, {ID: "d", Addr: "d:1"}}}
	const workers, each = 16, 300
	var maxSpread atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				b, release, err := lo.Acquire(context.Background(), r)
				if err != nil || b.Addr == "" {
					t.Error(b, err)
					return
				}
				lowest, highest := int64(math.MaxInt64), int64(0)
				for _, b := range r.Backends {
					n := lo.outstanding(b.Addr)
					lowest, highest = min(lowest, n), max(highest, n)
				}
				if lowest < 0 {
					t.Error("negative count")
				}
				for {
					m := maxSpread.Load()
					if highest-lowest <= m || maxSpread.CompareAndSwap(m, highest-lowest) {
						break
					}
				}
				if (w+i)%7 == 0 {
					time.Sleep(time.Duration(w%3) * 50 * time.Microsecond) // uneven request times
				}
				release()
			}
		})
	}
	wg.Wait()
	for _, b := range r.Backends {
		if n := lo.outstanding(b.Addr); n != 0 {
			t.Fatalf("%s: %d in flight at the end", b.ID, n)
		}
	}
	// 16 workers over 4 backends: 4 each when even; racing acquires
	// may overshoot a little, never by the whole worker count.
	if s := maxSpread.Load(); s > workers/2 {
		t.Fatalf("in-flight spread reached %d", s)
	}
}

// TestBalancePerRoute checks that the gateway's default balancer follows
// each route's Balance, with one state for both.
func TestBalancePerRoute(t *testing.T) {
	b := newBalancer(byRoute, time.Minute)
	ctx := context.Background()
	for _, tt := range []struct {
		balance string
		want    []string // with a holding 3 requests
	}{
		{"", []string{"b", "c", "b", "c"}},
		{BalanceLeastOutstanding, []string{"b", "c", "b", "c"}},
		{"unknown", []string{"b", "c", "b", "c"}},
		{BalanceRoundRobin, []string{"a", "b", "c", "a"}},
	} {
		r := threeBackends()
		r.Host = "h-" + tt.balance + ".localhost"
		lo := *r
		lo.Balance = BalanceLeastOutstanding
		release := hold(t, b, &lo, "a", 3) // the counts are per address, whatever the route
		r.Balance = tt.balance
		var got []string
		for range 4 {
			bk, rel, _ := b.Acquire(ctx, r)
			got = append(got, bk.ID)
			if rel != nil {
				rel()
			}
		}
		release()
		if !slices.Equal(got, tt.want) {
			t.Errorf("Balance %q: %v, want %v", tt.balance, got, tt.want)
		}
	}
}
