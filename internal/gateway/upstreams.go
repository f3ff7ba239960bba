package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
type Upstreams interface {
	Acquire(ctx context.Context, r *Route) (Backend, func(), error)
}

// RoundRobin returns the default Upstreams: each route rotates over its
// backends in order. The counter is kept per host, so it survives table
// swaps, and is a lock-free atomic once the host has been seen.
func RoundRobin() Upstreams { return &roundRobin{} }

// roundRobin keeps one counter per host it has ever served. Hosts are
// stages, so the map stays small; a deleted stage leaves 8 bytes behind.
type roundRobin struct {
	counters sync.Map // normalised host → *atomic.Uint64
}

var _ Upstreams = (*roundRobin)(nil)

func (rr *roundRobin) Acquire(_ context.Context, r *Route) (Backend, func(), error) {
	switch n := len(r.Backends); n {
	case 0:
		return Backend{}, nil, fmt.Errorf("route %s: %w", r.Host, ErrNoBackend)
	case 1:
		return r.Backends[0], nil, nil
	default:
		c, ok := rr.counters.Load(r.Host)
		if !ok {
			c, _ = rr.counters.LoadOrStore(r.Host, new(atomic.Uint64))
		}
		i := c.(*atomic.Uint64).Add(1) - 1
		return r.Backends[i%uint64(n)], nil, nil
	}
}
