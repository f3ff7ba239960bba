package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoBackend means a route has no instance that can take a request now.
// The gateway answers it with 502 no_healthy_instance.
var ErrNoBackend = errors.New("no healthy backend")

// Upstreams picks the backend that serves one request. The gateway calls
// Acquire before proxying and the returned release func exactly once when
// the request has ended (response written, or connection upgraded and
// closed). Release may be nil when there is nothing to release.
//
// Implementations decide everything about capacity: the gateway's own
// balancers (LeastOutstanding, RoundRobin) only choose, the serverless
// activator may wake or start an instance and block until it is ready
// (bounded by ctx). The gateway never knows which it is talking to.
//
// Errors: wrap ErrNoBackend when there is nothing to serve the route; a
// context error is treated as the client leaving (Canceled) or a timeout
// (DeadlineExceeded → 504); anything else becomes 502 bad_gateway.
//
// When an attempt fails with a connection error and the request may be
// sent again, the gateway releases that backend and acquires another one
// for the next attempt (at most 3 attempts per request), so every attempt
// is one Acquire (or AcquireExcept) and one release. Upstreams that also
// implement Failover choose a different backend and learn of the failure;
// others are asked with Acquire again and may return the same backend.
type Upstreams interface {
	Acquire(ctx context.Context, r *Route) (Backend, func(), error)
}

// Failover is an optional extension of Upstreams for the gateway's
// retries and passive health checks. LeastOutstanding and RoundRobin
// implement it.
type Failover interface {
	Upstreams

	// Failed reports that b, acquired for r, failed with a connection
	// error (refused, unreachable, reset or closed before any byte of a
	// response). It is called before b's release, on the request's
	// goroutine, so it must be cheap and never block. Implementations may
	// avoid b for a while; the gateway keeps no health state itself.
	Failed(r *Route, b Backend)

	// AcquireExcept is Acquire for a retry: tried holds the backends this
	// request has already failed on, most recent last. It must not return
	// one of them while r has a backend that is not in tried; when every
	// backend has been tried it either returns one of them again or fails
	// with ErrNoBackend (the gateway then answers with the last attempt's
	// error). tried is only valid during the call.
	AcquireExcept(ctx context.Context, r *Route, tried []Backend) (Backend, func(), error)
}

// DefaultSkipFailedFor is how long the gateway's balancers skip a backend
// after a connection error to it: long enough to stop sending to a killed
// instance before the controller notices (health checks run every few
// seconds), short enough that a transient error costs little capacity.
const DefaultSkipFailedFor = 2 * time.Second

// Route.Balance values: how the gateway's own balancer picks among a
// route's backends. They are the balancer endpoint's algorithms.
const (
	// BalanceLeastOutstanding sends a request to the backend with the
	// fewest requests in flight (the default, as on an ALB).
	BalanceLeastOutstanding = "least_outstanding"
	// BalanceRoundRobin rotates over the backends in order.
	BalanceRoundRobin = "round_robin"
)

// RoundRobin returns an Upstreams that rotates over each route's backends
// in order, whatever the route's Balance. The rotation is kept per host,
// so it survives table swaps, and is a lock-free atomic once the host has
// been seen.
//
// It implements Failover: a backend reported Failed is skipped for
// DefaultSkipFailedFor unless every backend of the route is being
// skipped, and AcquireExcept never returns a backend already tried; once
// all have been tried it fails with ErrNoBackend rather than send a
// request again to a backend that has just failed it.
func RoundRobin() Upstreams { return newBalancer(byRoundRobin, DefaultSkipFailedFor) }

// LeastOutstanding returns an Upstreams that sends each request to the
// backend of its route with the fewest requests in flight, whatever the
// route's Balance; ties go to the backends in turn, so a lightly loaded
// route is served round robin. In-flight counts are kept per backend
// address (one atomic each, taken by Acquire and given back by its
// release func), so they survive table swaps and a backend that moves
// between routes keeps its count. It implements Failover as RoundRobin
// does: failed backends are skipped, tried ones are not returned again.
//
// Counts are read without locks: concurrent acquires may both see the
// same backend as the least loaded and both pick it. That costs a little
// balance under bursts and never correctness.
func LeastOutstanding() Upstreams { return newBalancer(byLeastOutstanding, DefaultSkipFailedFor) }

// algorithm is a balancer's choice of backend.
type algorithm uint8

const (
	byRoute            algorithm = iota // each route's Balance: the gateway's default
	byRoundRobin                        // RoundRobin()
	byLeastOutstanding                  // LeastOutstanding()
)

// newBalancer returns a balancer with a skip duration; a duration of
// zero or less never skips.
func newBalancer(algo algorithm, skipFailedFor time.Duration) *balancer {
	return &balancer{algo: algo, skipFor: skipFailedFor, now: monotonicNow}
}

// balancer is the gateway's own Upstreams, both algorithms in one type
// so that the gateway's default can choose per route with one set of
// host state. It keeps one hostState per host it has ever served and one
// inflight per backend address it has ever counted: hosts are stages and
// addresses come from the instances' network, so both stay small, and a
// deleted stage or instance leaves a few bytes.
type balancer struct {
	algo     algorithm
	hosts    sync.Map // normalised host → *hostState
	inflight sync.Map // backend address → *inflight
	skipFor  time.Duration
	now      func() time.Duration // monotonic; replaced in tests
}

var (
	_ Failover = (*balancer)(nil)
	_ pinner   = (*balancer)(nil)
)

// hostState is the state of one host: its rotation, the backends that
// failed recently and, for least outstanding, the counters of its
// route's backends. skipped is nil unless a backend failed within
// skipFor, so the common path costs one extra atomic load and never reads
// a clock.
type hostState struct {
	next    atomic.Uint64
	skipped atomic.Pointer[[]skip] // copy-on-write; never modified once stored
	counts  atomic.Pointer[routeCounts]
}

// routeCounts are the in-flight counters of a route's backends, in the
// route's order, so that picking one reads no map. They are rebuilt
// (one allocation) when the host's route changes, i.e. on a table swap.
type routeCounts struct {
	backends []Backend // the route's slice they were built for, compared by identity
	counters []*inflight
}

// inflight counts the requests in flight to one backend address.
type inflight struct {
	n       atomic.Int64
	release func() // n.Add(-1), made once so that Acquire does not allocate
}

// skip marks a backend as skipped until a monotonic time.
type skip struct {
	backend Backend
	until   time.Duration
}

var processStart = time.Now()

// monotonicNow is the time since the process started, read from the
// monotonic clock, so that a wall-clock step cannot stretch a skip.
func monotonicNow() time.Duration { return time.Since(processStart) }

func (b *balancer) host(r *Route) *hostState {
	h, ok := b.hosts.Load(r.Host)
	if !ok {
		h, _ = b.hosts.LoadOrStore(r.Host, new(hostState))
	}
	return h.(*hostState)
}

// leastOutstanding reports whether r is balanced by least outstanding
// requests; otherwise it is round robin.
func (b *balancer) leastOutstanding(r *Route) bool {
	switch b.algo {
	case byRoundRobin:
		return false
	case byLeastOutstanding:
		return true
	}
	return r.Balance != BalanceRoundRobin
}

func (b *balancer) Acquire(_ context.Context, r *Route) (Backend, func(), error) {
	n := len(r.Backends)
	if n == 0 {
		return Backend{}, nil, fmt.Errorf("route %s: %w", r.Host, ErrNoBackend)
	}
	if b.leastOutstanding(r) {
		h := b.host(r)
		counts := b.counts(h, r)
		var avoid func(Backend) bool
		if skipped, now := b.liveSkips(h); skipped != nil {
			avoid = func(bk Backend) bool { return isSkipped(skipped, bk, now) }
		}
		i, _ := h.least(r.Backends, counts, avoid)
		return r.Backends[i], counts.take(i), nil
	}
	if n == 1 {
		return r.Backends[0], nil, nil
	}
	h := b.host(r)
	if skipped, now := b.liveSkips(h); skipped != nil {
		bk, _ := h.pick(r.Backends, func(bk Backend) bool { return isSkipped(skipped, bk, now) })
		return bk, nil, nil
	}
	i := h.next.Add(1) - 1
	return r.Backends[i%uint64(n)], nil, nil
}

func (b *balancer) AcquireExcept(_ context.Context, r *Route, tried []Backend) (Backend, func(), error) {
	if len(r.Backends) == 0 {
		return Backend{}, nil, fmt.Errorf("route %s: %w", r.Host, ErrNoBackend)
	}
	h := b.host(r)
	skipped, now := b.liveSkips(h)
	// A backend not yet tried and not skipped; else one not yet tried.
	untriedHealthy := func(bk Backend) bool { return slices.Contains(tried, bk) || isSkipped(skipped, bk, now) }
	untried := func(bk Backend) bool { return slices.Contains(tried, bk) }
	if b.leastOutstanding(r) {
		counts := b.counts(h, r)
		if i, ok := h.least(r.Backends, counts, untriedHealthy); ok {
			return r.Backends[i], counts.take(i), nil
		}
		if i, ok := h.least(r.Backends, counts, untried); ok {
			return r.Backends[i], counts.take(i), nil
		}
	} else {
		if bk, ok := h.pick(r.Backends, untriedHealthy); ok {
			return bk, nil, nil
		}
		if bk, ok := h.pick(r.Backends, untried); ok {
			return bk, nil, nil
		}
	}
	return Backend{}, nil, fmt.Errorf("route %s: every backend tried: %w", r.Host, ErrNoBackend)
}

// acquirePinned acquires r.Backends[i], the backend a sticky session is
// pinned to, unless it is being skipped after a failure (then the caller
// acquires as usual).
func (b *balancer) acquirePinned(r *Route, i int) (Backend, func(), bool) {
	bk := r.Backends[i]
	h := b.host(r)
	if skipped, now := b.liveSkips(h); skipped != nil && isSkipped(skipped, bk, now) {
		return Backend{}, nil, false
	}
	if !b.leastOutstanding(r) {
		return bk, nil, true
	}
	return bk, b.counts(h, r).take(i), true
}

// Failed skips bk for skipFor, unless bk is its route's only backend (a
// route of one has nothing to skip to). It allocates, but only on a
// failure.
func (b *balancer) Failed(r *Route, bk Backend) {
	if b.skipFor <= 0 || len(r.Backends) < 2 {
		return
	}
	h := b.host(r)
	for {
		old := h.skipped.Load()
		now := b.now()
		next := []skip{{backend: bk, until: now + b.skipFor}}
		if old != nil {
			for _, s := range *old {
				if s.backend != bk && s.until > now {
					next = append(next, s)
				}
			}
		}
		if h.skipped.CompareAndSwap(old, &next) {
			return
		}
	}
}

// liveSkips returns h's skip list and the time it was checked at, or nil
// when it is empty or every skip in it has expired (then it also clears
// it, so that the next requests take the fast path).
func (b *balancer) liveSkips(h *hostState) ([]skip, time.Duration) {
	p := h.skipped.Load()
	if p == nil {
		return nil, 0
	}
	now := b.now()
	for _, s := range *p {
		if s.until > now {
			return *p, now
		}
	}
	h.skipped.CompareAndSwap(p, nil) // lost race: a new skip was stored; fine
	return nil, now
}

func isSkipped(skipped []skip, b Backend, now time.Duration) bool {
	for _, s := range skipped {
		if s.backend == b && s.until > now {
			return true
		}
	}
	return false
}

// counts returns the in-flight counters of r's backends, rebuilding them
// when h last counted another route (the table changed). Two requests
// may rebuild at once; both get the same counters, which are unique per
// address, so the loser's copy is merely garbage.
func (b *balancer) counts(h *hostState, r *Route) *routeCounts {
	if c := h.counts.Load(); c != nil && len(c.backends) == len(r.Backends) && &c.backends[0] == &r.Backends[0] {
		return c
	}
	c := &routeCounts{backends: r.Backends, counters: make([]*inflight, len(r.Backends))}
	for i, bk := range r.Backends {
		c.counters[i] = b.counter(bk.Addr)
	}
	h.counts.Store(c)
	return c
}

// counter returns the in-flight counter of addr, creating it once.
func (b *balancer) counter(addr string) *inflight {
	if c, ok := b.inflight.Load(addr); ok {
		return c.(*inflight)
	}
	c := new(inflight)
	c.release = func() { c.n.Add(-1) }
	actual, _ := b.inflight.LoadOrStore(addr, c)
	return actual.(*inflight)
}

// outstanding is the number of requests in flight to addr, for tests.
func (b *balancer) outstanding(addr string) int64 {
	if c, ok := b.inflight.Load(addr); ok {
		return c.(*inflight).n.Load()
	}
	return 0
}

// take counts one more request in flight to backend i and returns the
// release func that counts it out.
func (c *routeCounts) take(i int) func() {
	c.counters[i].n.Add(1)
	return c.counters[i].release
}

// pick continues h's rotation over backends, passing over those avoid
// rejects. The turns of the backends passed over count as taken, so a
// skipped backend's traffic spreads over the others instead of all
// falling to its successor. When avoid rejects every backend it reports
// false with the plain rotation's pick, so that rotation goes on.
func (h *hostState) pick(backends []Backend, avoid func(Backend) bool) (Backend, bool) {
	n := uint64(len(backends))
	i := h.next.Add(1) - 1
	for k := range n {
		if b := backends[(i+k)%n]; !avoid(b) {
			if k > 0 {
				h.next.Add(k)
			}
			return b, true
		}
	}
	return backends[i%n], false
}

// least returns the index of the backend with the fewest requests in
// flight among those avoid (nil: none) does not reject. It scans from
// where h's rotation stands and keeps the first of equals, then moves
// the rotation past its pick, so that equally loaded backends take turns.
// When avoid rejects every backend it reports false with the least loaded
// of all.
func (h *hostState) least(backends []Backend, counts *routeCounts, avoid func(Backend) bool) (int, bool) {
	n := uint64(len(backends))
	start := h.next.Add(1) - 1
	best, bestK, bestLoad := -1, uint64(0), int64(math.MaxInt64)
	anyBest, anyLoad := int(start%n), int64(math.MaxInt64)
	for k := range n {
		i := int((start + k) % n)
		load := counts.counters[i].n.Load()
		if load < anyLoad {
			anyBest, anyLoad = i, load
		}
		if load < bestLoad && (avoid == nil || !avoid(backends[i])) {
			best, bestK, bestLoad = i, k, load
		}
	}
	if best < 0 {
		return anyBest, false
	}
	if bestK > 0 {
		h.next.Add(bestK)
	}
	return best, true
}
