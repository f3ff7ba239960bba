package gateway

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Clients that stop reading.
//
// A client that asks for a response and then reads nothing blocks the
// write of that response once the socket buffers are full, and with it
// the request's goroutine and its backend connection (a serverless
// instance, even), for as long as it likes: a slow-read attack, the
// write side of slowloris. An ALB closes a connection on which nothing
// was sent or received for its idle timeout, nginx one whose write made
// no progress for send_timeout (60 s), haproxy after timeout client.
// Here a write to a client may block for the connection's idle timeout
// (its route's, or IdleTimeout) and at most half as long again; the
// connection is then closed. It bounds each write, not the response: a
// slow client that keeps reading is served to the end.
//
// The bound is a write deadline, set lazily: a write sets it only when
// less than the idle timeout is left of it, to 1.5 times the idle
// timeout from now, so a connection moves its runtime timer at most
// once per half idle timeout rather than for every write.
//
// It covers HTTP/1.x connections, the fast path's and net/http's, plain
// and TLS, and the WebSockets upgraded on them. An HTTP/2 client stalls
// a stream through flow control rather than its connection, so on
// HTTP/2 the bound is the stream's write deadline (exchange.Write), and
// a connection that takes no bytes for IdleTimeout is closed by the
// server's HTTP2.WriteByteTimeout (HTTP2Config).

// writeBound is a connection's lazily set write deadline.
type writeBound struct {
	until atomic.Int64 // the deadline set, as a monotonic time since boundEpoch; 0: none of ours
	// held: a deadline set by the connection's user (net/http) is in
	// force, and stays as it was set until cleared.
	held atomic.Bool
}

var boundEpoch = time.Now()

// writeDeadliner is what a writeBound bounds: a connection, or an
// HTTP/2 stream's http.ResponseController.
type writeDeadliner interface {
	SetWriteDeadline(time.Time) error
}

// before is called before each write on c: it sets the write deadline
// when less than d is left of the one set.
func (b *writeBound) before(c writeDeadliner, d time.Duration) {
	if b.held.Load() {
		return
	}
	now := time.Now()
	m := int64(now.Sub(boundEpoch))
	if until := b.until.Load(); until != 0 && until-m >= int64(d) {
		return
	}
	limit := d + d/2
	b.until.Store(m + int64(limit))
	c.SetWriteDeadline(now.Add(limit))
}

// setWriteDeadline applies a deadline the connection's user sets. A zero
// one clears the user's, and leaves the bound's in force.
func (b *writeBound) setWriteDeadline(c writeDeadliner, t time.Time) error {
	if t.IsZero() {
		b.held.Store(false)
		if b.until.Load() != 0 {
			return nil
		}
		return c.SetWriteDeadline(t)
	}
	b.held.Store(true)
	b.until.Store(0)
	return c.SetWriteDeadline(t)
}

// idleTimeout is the connection's idle timeout: its route's, else the
// server's.
func (c *strictConn) idleTimeout() time.Duration {
	if d := time.Duration(c.idle.Load()); d > 0 {
		return d
	}
	return IdleTimeout
}

func (c *strictConn) Write(p []byte) (int, error) {
	c.wb.before(c.Conn, c.idleTimeout())
	return c.Conn.Write(p)
}

func (c *strictConn) SetWriteDeadline(t time.Time) error {
	return c.wb.setWriteDeadline(c.Conn, t)
}

func (c *strictConn) SetDeadline(t time.Time) error {
	rerr := c.SetReadDeadline(t)
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return rerr
}

// clientOut is a fast connection as the writer of its responses (fc.out
// writes to it), with the bound above. Only the connection's goroutine
// writes.
type clientOut fastConn

func (o *clientOut) Write(p []byte) (int, error) {
	fc := (*fastConn)(o)
	fc.wb.before(fc.c, fc.idleTimeout())
	return fc.c.Write(p)
}

// HTTP2Config is for http.Server.HTTP2 of a gateway server that serves
// HTTP/2: a connection on which nothing could be written for
// IdleTimeout is closed.
func HTTP2Config() *http.HTTP2Config {
	return &http.HTTP2Config{WriteByteTimeout: IdleTimeout}
}
