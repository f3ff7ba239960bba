package gateway

import (
	"errors"
	"net"
	"os"
	"sync"
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
// Here a connection that takes no byte of what is written to it for
// about its idle timeout (its route's, or IdleTimeout: between one and
// three times it) is closed. It bounds progress, not the response: a
// slow client that keeps reading is served to the end.
//
// The bound is a write deadline, set lazily: a write sets it only when
// less than the idle timeout is left of it, to 1.5 times the idle
// timeout from now, so a connection moves its runtime timer at most
// once per half idle timeout rather than for every write. A write that
// times out having written something goes on with the rest under a new
// deadline: the client is reading.
//
// It covers the client connections of HTTP/1.x, the fast path's and
// net/http's, plain and TLS (below TLS, whose connection a timed-out
// write would leave unusable), the WebSockets upgraded on them, and
// HTTP/2 connections (with the server's IdleTimeout: a connection there
// serves many routes at once). An HTTP/2 client can also stall a single
// stream, through flow control: there each streamPiece of the body, and
// each flush, must be taken within the route's idle timeout, or the
// stream is reset (exchange.writeStream).
//
// A client that takes a byte now and then, within the bound each time,
// keeps its connection, as with nginx's send_timeout: the bound is
// against clients that stop, not against slow ones.

// writeBound is a connection's lazily set write deadline.
type writeBound struct {
	mu    sync.Mutex
	until int64 // the deadline set, as a monotonic time since boundEpoch; 0: none of ours
	// held: a deadline set by the connection's user (net/http, a TLS
	// handshake) is in force, and stays as it was set until cleared.
	held bool
}

var boundEpoch = time.Now()

// before is called before each write on c: it sets the write deadline
// to 1.5 d from now unless what is left of the one set is between d and
// 1.5 d (a shorter d than the last one's sets it anew).
func (b *writeBound) before(c net.Conn, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held {
		return
	}
	now := time.Now()
	m := int64(now.Sub(boundEpoch))
	limit := d + d/2
	if rem := b.until - m; b.until != 0 && rem >= int64(d) && rem <= int64(limit) {
		return
	}
	b.until = m + int64(limit)
	c.SetWriteDeadline(now.Add(limit))
}

// write writes p to c, with d bounding each stretch in which no byte
// goes out. A timeout after some bytes went out goes on with the rest;
// one of a deadline c's user set does not.
func (b *writeBound) write(c net.Conn, p []byte, d time.Duration) (int, error) {
	var total int
	for {
		b.before(c, d)
		n, err := c.Write(p)
		total += n
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return total, err
		}
		b.mu.Lock()
		held := b.held
		b.until = 0 // spent: the next before sets a new one
		b.mu.Unlock()
		if held {
			return total, err
		}
		p = p[n:]
	}
}

// setWriteDeadline applies a deadline the connection's user sets. A zero
// one clears the user's, and leaves the bound's in force.
func (b *writeBound) setWriteDeadline(c net.Conn, t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.IsZero() {
		b.held = false
		if b.until != 0 {
			return nil
		}
		return c.SetWriteDeadline(t)
	}
	b.held, b.until = true, 0
	return c.SetWriteDeadline(t)
}

// boundConn is a client connection of StrictListener or
// StrictTLSListener (under its TLS) with the bound above.
type boundConn struct {
	net.Conn
	idle *atomic.Int64 // the strictConn's idle timeout; nil: IdleTimeout
	wb   writeBound
}

func (c *boundConn) Write(p []byte) (int, error) {
	var d time.Duration
	if c.idle != nil {
		d = time.Duration(c.idle.Load())
	}
	return c.wb.write(c.Conn, p, idleOr(d))
}

// idleOr is an idle timeout d set for a route or connection, or the
// server's IdleTimeout when d is not set.
func idleOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return IdleTimeout
}

func (c *boundConn) SetWriteDeadline(t time.Time) error {
	return c.wb.setWriteDeadline(c.Conn, t)
}

func (c *boundConn) SetDeadline(t time.Time) error {
	rerr := c.Conn.SetReadDeadline(t)
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return rerr
}

// CloseWrite half-closes the connection, as on a *net.TCPConn.
func (c *boundConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// clientOut is a fast connection as the writer of its responses (fc.out
// writes to it), with the bound above. Only the connection's goroutine
// writes, and nothing else sets its write deadline.
type clientOut fastConn

func (o *clientOut) Write(p []byte) (int, error) {
	fc := (*fastConn)(o)
	return fc.wb.write(fc.c, p, fc.idleTimeout())
}

// streamPiece is how much of a body an HTTP/2 stream is given at a time
// under a write deadline.
const streamPiece = 4 << 10
