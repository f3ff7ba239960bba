package gateway

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Per-connection idle timeouts.
//
// A client's keep-alive connection is shared by every stage it sends
// requests to, so a stage's idle timeout (an ALB's, Route.IdleTimeout)
// applies per connection: an HTTP/1.x connection idles for the idle
// timeout of the route that served its last request, or the server's
// IdleTimeout when that route has none (gateway stages, unrouted hosts).
//
// net/http owns the idle wait: after each response it calls
// SetReadDeadline(now + Server.IdleTimeout) on the connection and waits
// for the next request's first bytes. The connections of StrictListener
// and StrictTLSListener replace that deadline with now + the route's
// idle timeout. They recognise it as the one read deadline net/http sets
// further away than ReadHeaderTimeout + 1s: the others are zero, in the
// past, or now + ReadHeaderTimeout (the server must set no ReadTimeout).
// This relies on how net/http behaves, not on its documentation;
// TestIdleTimeoutPerRoute fails if a Go release changes it.
//
// HTTP/2 connections (StrictTLSListener hands them over as they are)
// keep the server's IdleTimeout, as do the connections of any other
// listener.

// idleDeadlineAfter: a read deadline further away than this is the
// server's idle deadline. It assumes the server's ReadHeaderTimeout is at
// most ReadHeaderTimeout and its IdleTimeout longer than this.
const idleDeadlineAfter = ReadHeaderTimeout + time.Second

type connKey struct{}

// ConnContext is for http.Server.ConnContext of a server whose listener
// is a StrictListener or a StrictTLSListener: it lets the gateway find a
// request's connection, to give it the idle timeout of the route that
// served the request. Other connections are left alone.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	var sc *strictConn
	switch c := c.(type) {
	case *strictConn:
		sc = c
	case *strictTLSConn:
		sc = &c.strictConn
	default:
		return ctx
	}
	return context.WithValue(ctx, connKey{}, sc)
}

// setIdle makes d (zero: the server's) the idle timeout of r's
// connection after r, if the connection is one of ours.
func setIdle(r *http.Request, d time.Duration) {
	c, ok := r.Context().Value(connKey{}).(*strictConn)
	if ok && c.idle.Load() != int64(d) {
		c.idle.Store(int64(d))
	}
}

// SetReadDeadline replaces the server's idle deadline with one of the
// connection's own idle timeout, when it has one.
func (c *strictConn) SetReadDeadline(t time.Time) error {
	if d := time.Duration(c.idle.Load()); d > 0 && !t.IsZero() {
		if now := time.Now(); t.Sub(now) > idleDeadlineAfter {
			t = now.Add(d)
		}
	}
	return c.Conn.SetReadDeadline(t)
}
