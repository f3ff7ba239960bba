package gateway

import (
	"context"
	"errors"
	"fmt"
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
// Implementations decide everything about capacity: the default round
// robin only rotates, the serverless activator may wake or start an
// instance and block until it is ready (bounded by ctx). The gateway never
// knows which it is talking to.
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
// retries and passive health checks. RoundRobin implements it.
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

// DefaultSkipFailedFor is how long RoundRobin skips a backend after a
// connection error to it: long enough to stop sending to a killed
// instance before the controller notices (health checks run every few
// seconds), short enough that a transient error costs little capacity.
const DefaultSkipFailedFor = 2 * time.Second

// RoundRobin returns the default Upstreams: each route rotates over its
// backends in order. The counter is kept per host, so it survives table
// swaps, and is a lock-free atomic once the host has been seen.
//
// It implements Failover: a backend reported Failed is skipped for
// DefaultSkipFailedFor unless every backend of the route is being
// skipped, and AcquireExcept never returns a backend already tried; once
// all have been tried it fails with ErrNoBackend rather than send a
// request again to a backend that has just failed it.
func RoundRobin() Upstreams { return newRoundRobin(DefaultSkipFailedFor) }

// newRoundRobin is RoundRobin with another skip duration; a duration of
// zero or less never skips.
func newRoundRobin(skipFailedFor time.Duration) *roundRobin {
	return &roundRobin{skipFor: skipFailedFor, now: monotonicNow}
}

// roundRobin keeps one rrHost per host it has ever served. Hosts are
// stages, so the map stays small; a deleted stage leaves a few bytes.
type roundRobin struct {
	counters sync.Map // normalised host → *rrHost
	skipFor  time.Duration
	now      func() time.Duration // monotonic; replaced in tests
}

var _ Failover = (*roundRobin)(nil)

// rrHost is the state of one host: its rotation and the backends that
// failed recently. skipped is nil unless a backend failed within skipFor,
// so the common path costs one extra atomic load and never reads a clock.
type rrHost struct {
	next    atomic.Uint64
	skipped atomic.Pointer[[]skip] // copy-on-write; never modified once stored
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

func (rr *roundRobin) host(r *Route) *rrHost {
	h, ok := rr.counters.Load(r.Host)
	if !ok {
		h, _ = rr.counters.LoadOrStore(r.Host, new(rrHost))
	}
	return h.(*rrHost)
}

func (rr *roundRobin) Acquire(_ context.Context, r *Route) (Backend, func(), error) {
	switch n := len(r.Backends); n {
	case 0:
		return Backend{}, nil, fmt.Errorf("route %s: %w", r.Host, ErrNoBackend)
	case 1:
		return r.Backends[0], nil, nil
	default:
		h := rr.host(r)
		if skipped, now := rr.liveSkips(h); skipped != nil {
			b, _ := h.pick(r.Backends, func(b Backend) bool { return isSkipped(skipped, b, now) })
			return b, nil, nil
		}
		i := h.next.Add(1) - 1
		return r.Backends[i%uint64(n)], nil, nil
	}
}

func (rr *roundRobin) AcquireExcept(_ context.Context, r *Route, tried []Backend) (Backend, func(), error) {
	if len(r.Backends) == 0 {
		return Backend{}, nil, fmt.Errorf("route %s: %w", r.Host, ErrNoBackend)
	}
	h := rr.host(r)
	skipped, now := rr.liveSkips(h)
	// A backend not yet tried and not skipped; else one not yet tried.
	if b, ok := h.pick(r.Backends, func(b Backend) bool {
		return slices.Contains(tried, b) || isSkipped(skipped, b, now)
	}); ok {
		return b, nil, nil
	}
	if b, ok := h.pick(r.Backends, func(b Backend) bool { return slices.Contains(tried, b) }); ok {
		return b, nil, nil
	}
	return Backend{}, nil, fmt.Errorf("route %s: every backend tried: %w", r.Host, ErrNoBackend)
}

// Failed skips b for skipFor, unless b is its route's only backend (a
// route of one has nothing to skip to). It allocates, but only on a
// failure.
func (rr *roundRobin) Failed(r *Route, b Backend) {
	if rr.skipFor <= 0 || len(r.Backends) < 2 {
		return
	}
	h := rr.host(r)
	for {
		old := h.skipped.Load()
		now := rr.now()
		next := []skip{{backend: b, until: now + rr.skipFor}}
		if old != nil {
			for _, s := range *old {
				if s.backend != b && s.until > now {
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
func (rr *roundRobin) liveSkips(h *rrHost) ([]skip, time.Duration) {
	p := h.skipped.Load()
	if p == nil {
		return nil, 0
	}
	now := rr.now()
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

// pick continues h's rotation over backends, passing over those avoid
// rejects. The turns of the backends passed over count as taken, so a
// skipped backend's traffic spreads over the others instead of all
// falling to its successor. When avoid rejects every backend it reports
// false with the plain rotation's pick, so that rotation goes on.
func (h *rrHost) pick(backends []Backend, avoid func(Backend) bool) (Backend, bool) {
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
