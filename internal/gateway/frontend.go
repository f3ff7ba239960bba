package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Frontend serves the gateway on a plain-HTTP listener with its own
// HTTP/1.1 server loop, the fast path, for the requests that make up
// nearly all traffic, and hands everything else to net/http.
//
// net/http's server costs more per request than the proxying itself:
// for every request it allocates the request, its header map and URL,
// starts a background read of the connection (to notice a client that
// leaves) and stops it with a deadline, which on a 2-core machine means
// goroutine wake-ups and syscalls nginx does not make. The fast path
// reads a request head into the connection's buffer, parses it in place
// (fasthead.go), and relays the response's head and body to the client
// as the backend sent them, less the hop-by-hop headers.
//
// It takes a request when the head is plain HTTP/1.1 (see parseHead)
// and its route is a container stage's, without sticky sessions or a
// path route, and with no middleware or only checks it can make on the
// head (Route.Admit). At the first request it does not take, it hands the
// connection, with every byte read and not yet served, to Fallback (an
// http.Server with the gateway as its handler, through a StrictListener):
// the connection then stays with net/http, which serves it as it served
// every connection before the fast path existed. A response the fast path
// writes is never followed by net/http's on the same connection in a way
// a client could tell apart: requests are answered in order.
//
// On Linux, a TCP listener is served by event loops (evloop_linux.go),
// which serve the simplest exchanges themselves and give a connection
// to a fastConn's goroutine at the first request or response they do
// not take.
type Frontend struct {
	g        *Gateway
	fallback *http.Server
	bypass   func(host, path string) bool
	handoff  *handoffListener

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*fastConn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
	ticks   atomic.Int64 // the sweeper's clock (fastclock.go)

	headerTimeout time.Duration // ReadHeaderTimeout; shorter in tests

	// The event loops serving the listener, if any (evloop_linux.go);
	// hardClose tells them to close every connection, done that serving
	// ends.
	loops     []*evLoop
	hardClose atomic.Bool
	done      chan struct{}
	doneOnce  sync.Once
}

// FrontendConfig configures a Frontend.
type FrontendConfig struct {
	// Fallback serves the connections the fast path hands over. Its
	// handler should end in the gateway (certmagic's HTTP handler in
	// front, say), with ReadHeaderTimeout, MaxHeaderBytes, IdleTimeout
	// and ConnContext as for a gateway server. The Frontend runs it on
	// its own listener; Shutdown shuts it down.
	Fallback *http.Server
	// Bypass, when set, sends the requests it reports true for to
	// Fallback: ACME challenges, hosts redirected to HTTPS.
	Bypass func(host, path string) bool
}

// NewFrontend returns a Frontend for g.
func (g *Gateway) NewFrontend(cfg FrontendConfig) *Frontend {
	if cfg.Fallback == nil {
		cfg.Fallback = &http.Server{Handler: g, ReadHeaderTimeout: ReadHeaderTimeout,
			MaxHeaderBytes: MaxHeaderBytes, IdleTimeout: IdleTimeout, ConnContext: ConnContext}
	}
	return &Frontend{g: g, fallback: cfg.Fallback, bypass: cfg.Bypass, conns: map[*fastConn]struct{}{},
		headerTimeout: ReadHeaderTimeout, done: make(chan struct{})}
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// http.ErrServerClosed then, like http.Server.Serve.
func (f *Frontend) Serve(ln net.Listener) error {
	f.mu.Lock()
	if f.ln != nil {
		f.mu.Unlock()
		return errors.New("gateway: Frontend.Serve called twice")
	}
	f.ln = ln
	f.handoff = &handoffListener{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	f.mu.Unlock()
	if f.closing.Load() {
		ln.Close()
		return http.ErrServerClosed
	}
	fallbackErr := make(chan error, 1)
	go func() {
		fallbackErr <- f.fallback.Serve(StrictListener(f.handoff))
	}()
	go f.sweep()
	if f.serveLoops(ln) {
		<-f.done
		return http.ErrServerClosed
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// Out of file descriptors and the like: back off as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			// Serving ends: connections finish their requests, then
			// the sweeper stops.
			f.closing.Store(true)
			f.handoff.Close()
			<-fallbackErr // its listener closed: not the error to report
			return err
		}
		delay = 0
		fc := newFastConn(f, c)
		f.mu.Lock()
		if f.closing.Load() {
			f.mu.Unlock()
			c.Close()
			continue
		}
		f.conns[fc] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go fc.serve()
	}
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections then close) until ctx ends, and
// shuts the fallback server down, like http.Server.Shutdown.
func (f *Frontend) Shutdown(ctx context.Context) error {
	f.closing.Store(true)
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
	}
	for fc := range f.conns {
		fc.wakeIfIdle()
	}
	f.mu.Unlock()
	f.end()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		f.hardClose.Store(true)
		f.wakeLoops()
		f.closeConns()
	}
	if ferr := f.fallback.Shutdown(ctx); err == nil {
		err = ferr
	}
	return err
}

// Close closes the listener and every connection at once, and the
// fallback server.
func (f *Frontend) Close() error {
	f.closing.Store(true)
	f.hardClose.Store(true)
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Unlock()
	f.end()
	f.closeConns()
	return f.fallback.Close()
}

// end tells the event loops, and Serve, that serving ends.
func (f *Frontend) end() {
	f.doneOnce.Do(func() { close(f.done) })
	f.wakeLoops()
}

func (f *Frontend) closeConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		fc.c.Close()
	}
}

func (f *Frontend) forget(fc *fastConn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
	f.wg.Done()
}

// handOff gives c to the fallback server; false when it is shut down.
func (f *Frontend) handOff(c net.Conn) bool {
	return f.handoff.give(c)
}

// handoffListener is the fallback server's listener: the connections
// the fast path hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// prefixConn replays the bytes the fast path read before handing its
// connection over.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close a handed connection as it would
// the original.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// newFastConn sets up the state of one client connection.
func newFastConn(f *Frontend, c net.Conn) *fastConn {
	fc := &fastConn{f: f, c: c, buf: make([]byte, 4<<10)}
	fc.out = bufio.NewWriterSize((*clientOut)(fc), 4<<10)
	fc.answers = fc.sendAnswers
	fc.cr = newWaitReader(c)
	fc.resp.h = make(http.Header, 8)
	fc.peer, fc.hasPeer, fc.trustedPeer = peerOf(c, f.g)
	return fc
}
