package gateway

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The fast path's timeouts are kept by one sweeper per Frontend, not by
// connection deadlines: setting a deadline moves a runtime timer, and a
// request would move five (the client's idle and header waits, the
// backend's write, header and body waits), which cost a tenth of the
// fast path's CPU per request on the reference machine. Instead, each
// connection notes what it is waiting for and since which tick
// (phaseClock), and the sweeper, every sweepTick, ends the waits past
// their limit by setting a deadline in the past, which fails the blocked
// read or write with os.ErrDeadlineExceeded, as a deadline would have.
// A timeout fires up to two ticks late (a wait begins up to a tick after
// the tick it is counted from), never early.
//
// The sweeper also starts the client watch: net/http reads every
// connection in the background while its request is served, to notice a
// client that leaves; the fast path does so only for requests that wait
// on their backend for watchAfter or longer.

// sweepTick is the sweeper's period, and the timeouts' precision.
const sweepTick = 10 * time.Millisecond

// watchAfter is how long a request waits on its backend before the
// client's connection is watched.
const watchAfter = 2 * sweepTick

// What a fast connection waits for.
const (
	phaseNone    = iota // nothing: it is working
	phaseIdle           // a request's first byte (the idle timeout)
	phaseHead           // the rest of a head (ReadHeaderTimeout)
	phaseBody           // a request's body (the route's timeout, else the idle timeout)
	phaseBackend        // its backend: sending the request, and the response's head
	phaseRelay          // its backend's body, on a route with a timeout
)

// phaseClock is a connection's wait, shared with the sweeper.
type phaseClock struct {
	mu       sync.Mutex
	phase    int
	since    int64 // the sweeper's tick when the wait began
	limit    int64 // ticks it may last; 0: no limit
	uc       *upstreamConn
	timedOut bool // the sweeper ended the wait: a deadline in the past is set
	watch    *clientWatch
	// A wait for the next request begun by a waitReader, which does not
	// hear of bytes that came before it began: the sweeper peeks once,
	// unheardPeek after it began (unheardSince), and pokes the wait (a
	// deadline in the past) when something is there.
	unheardWait  bool
	unheardSince int64
	poke         bool
}

// unheardPeek is how long a waitReader's wait for a client's next
// request lasts before the sweeper peeks at its connection.
const unheardPeek = 2 * sweepTick

// enter notes that the connection now waits for phase, at most limit
// (0: no limit), on uc for the backend phases.
func (fc *fastConn) enter(phase int, limit time.Duration, uc *upstreamConn) {
	var ticks int64
	if limit > 0 {
		ticks = int64((limit + sweepTick - 1) / sweepTick)
	}
	c := &fc.clock
	c.mu.Lock()
	c.phase, c.since, c.limit, c.uc = phase, fc.f.ticks.Load(), ticks, uc
	c.unheardWait = false
	c.mu.Unlock()
}

// unheard notes that a waitReader's wait for the next request has begun,
// which the sweeper peeks at after unheardPeek. It is called from within
// that read (see sendAnswers), after the poller's readiness was reset:
// a peek made before the reset, had the serving goroutine been held up
// between enter and the read, would miss bytes coming in between, which
// the wait does not hear of either.
func (fc *fastConn) unheard() {
	c := &fc.clock
	c.mu.Lock()
	c.unheardWait, c.unheardSince = true, fc.f.ticks.Load()
	c.mu.Unlock()
}

// poked reports whether the sweeper ended the wait because bytes had
// come unheard of; the wait goes on, and conn's deadline is cleared,
// under c.mu: once poke is false the sweeper may time the wait out (or
// Shutdown wake it), and its deadline in the past must stay.
func (c *phaseClock) poked(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.poke
	c.poke = false
	if p && !c.timedOut {
		conn.SetReadDeadline(time.Time{})
	}
	return p
}

// leave ends the wait. It reports whether the sweeper timed it out, and
// whether a watch of the client saw it leave; the watch is over when it
// returns. A client connection whose wait timed out gets its deadline
// back: what it waited for came, and may be served.
func (fc *fastConn) leave() (timedOut, gone bool) {
	c := &fc.clock
	c.mu.Lock()
	phase := c.phase
	timedOut, w, poke := c.timedOut, c.watch, c.poke
	c.phase, c.uc, c.timedOut, c.watch = phaseNone, nil, false, nil
	c.unheardWait, c.poke = false, false
	c.mu.Unlock()
	if poke || timedOut && (phase == phaseIdle || phase == phaseHead || phase == phaseBody) {
		fc.c.SetReadDeadline(time.Time{})
	}
	if w != nil {
		gone = fc.stopWatch(w)
	}
	return timedOut, gone
}

// check is the sweeper's look at one connection, at tick now.
func (fc *fastConn) check(now int64) {
	c := &fc.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == phaseNone || c.timedOut || c.poke {
		return
	}
	age := now - c.since
	if c.unheardWait && now-c.unheardSince >= int64(unheardPeek/sweepTick) {
		c.unheardWait = false
		if fc.cr.pending() {
			c.poke = true
			fc.c.SetReadDeadline(aLongTimeAgo)
			return
		}
	}
	if c.phase == phaseBackend && c.watch == nil && age >= int64(watchAfter/sweepTick) {
		c.watch = fc.startWatch(c.uc)
	}
	if c.limit > 0 && age > c.limit {
		c.timedOut = true
		switch c.phase {
		case phaseBackend, phaseRelay:
			c.uc.conn.SetDeadline(aLongTimeAgo)
		default:
			fc.c.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// wakeIfIdle ends a wait for the next request, for Shutdown.
func (fc *fastConn) wakeIfIdle() {
	c := &fc.clock
	c.mu.Lock()
	if c.phase == phaseIdle && !c.timedOut {
		c.timedOut = true
		fc.c.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// sweep runs the sweeper until the Frontend is shut down and its last
// connection has ended.
func (f *Frontend) sweep() {
	t := time.NewTicker(sweepTick)
	defer t.Stop()
	for range t.C {
		now := f.ticks.Add(1)
		f.mu.Lock()
		for fc := range f.conns {
			fc.check(now)
		}
		over := f.closing.Load() && len(f.conns) == 0
		f.mu.Unlock()
		if over {
			return
		}
	}
}

// clientWatch is a read of the client's connection while a slow backend
// is awaited: EOF or an error means the client left, and ends the wait
// on uc.
type clientWatch struct {
	done chan struct{}
	gone atomic.Bool
	b    [1]byte
	n    int
}

func (fc *fastConn) startWatch(uc *upstreamConn) *clientWatch {
	w := &clientWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		n, err := fc.c.Read(w.b[:])
		w.n = n
		if n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			w.gone.Store(true)
			uc.conn.SetDeadline(aLongTimeAgo)
		}
	}()
	return w
}

// stopWatch ends w, keeping a byte it read (of a pipelined request), and
// reports whether the client left.
func (fc *fastConn) stopWatch(w *clientWatch) (gone bool) {
	fc.c.SetReadDeadline(aLongTimeAgo)
	<-w.done
	fc.c.SetReadDeadline(time.Time{})
	if w.n > 0 {
		if fc.w == len(fc.buf) {
			// The request's head may still point into the old buffer,
			// which stays as it is. The new one need not be larger: the
			// served bytes before r stay behind (r is past the request's
			// head here).
			size := len(fc.buf)
			if fc.r == 0 {
				size *= 2
			}
			grown := make([]byte, size)
			fc.w = copy(grown, fc.buf[fc.r:fc.w])
			fc.r = 0
			fc.buf = grown
		}
		fc.buf[fc.w] = w.b[0]
		fc.w++
	}
	return w.gone.Load()
}
