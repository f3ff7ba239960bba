package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// TLSHandshakeTimeout bounds a client's TLS handshake on a
// StrictTLSListener, as ReadHeaderTimeout bounds its headers.
const TLSHandshakeTimeout = 10 * time.Second

// StrictTLSListener is StrictListener for HTTPS: it accepts ln's
// connections, completes each one's TLS handshake with config (in a
// goroutine of its own, within TLSHandshakeTimeout, so that a slow client
// holds up no other), and returns those that negotiated HTTP/1.x (ALPN
// "http/1.1", or none) wrapped like StrictListener's, so that ambiguous
// framing is refused on HTTPS too. A connection that negotiated another
// protocol is returned as the *tls.Conn it is: HTTP/2 (whose framing
// leaves no such ambiguity) for net/http's HTTP/2 server, and acme-tls/1
// (a TLS-ALPN-01 challenge, answered in the handshake by config's
// GetCertificate) for net/http to close.
//
// Serve it with http.Server.Serve, not ServeTLS, on a server whose
// TLSConfig lists "h2" in NextProtos, so that Serve sets up HTTP/2 (the
// server does no handshake with it: config does them). A wrapped connection is not a *tls.Conn, but it has
// ConnectionState, from which net/http sets Request.TLS since Go 1.20
// (golang.org/issue/56104): handlers see HTTPS as before.
func StrictTLSListener(ln net.Listener, config *tls.Config) net.Listener {
	l := &strictTLSListener{
		Listener: ln,
		config:   config.Clone(),
		conns:    make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
	}
	go l.run()
	return l
}

type strictTLSListener struct {
	net.Listener
	config    *tls.Config
	conns     chan net.Conn // handshaken
	errs      chan error    // from ln.Accept
	done      chan struct{} // closed by Close, or when ln is closed
	closeOnce sync.Once
}

var (
	_ net.Listener = (*strictTLSListener)(nil)
	_ net.Conn     = (*strictTLSConn)(nil)
)

// strictTLSConn is an HTTP/1.x connection of a StrictTLSListener.
type strictTLSConn struct {
	strictConn
	tls *tls.Conn
}

// ConnectionState lets net/http set Request.TLS.
func (c *strictTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// run accepts connections and starts their handshakes until ln is
// closed. Other Accept errors go to Accept one by one, so that the
// server's back-off on temporary ones paces this loop (and a server that
// gives up closes the listener).
func (l *strictTLSListener) run() {
	for {
		c, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) { // ln closed, by Close or not
			l.closeOnce.Do(func() { close(l.done) })
			return
		}
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			continue
		}
		go l.handshake(c)
	}
}

// handshake completes c's TLS handshake and queues it for Accept.
func (l *strictTLSListener) handshake(raw net.Conn) {
	// The bound on stalled writes goes under TLS: a write that times
	// out leaves a tls.Conn unusable, and the bound's may go on.
	c := &boundConn{Conn: raw}
	tc := tls.Server(c, l.config)
	_ = c.SetDeadline(time.Now().Add(TLSHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		// As net/http answers plain HTTP sent to its TLS listeners.
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	var out net.Conn = tc
	switch tc.ConnectionState().NegotiatedProtocol {
	case "", "http/1.1", "http/1.0":
		sc := &strictTLSConn{strictConn: strictConn{Conn: tc}, tls: tc}
		c.idle = &sc.idle // before the connection is handed out
		out = sc
	}
	select {
	case l.conns <- out:
	case <-l.done:
		out.Close()
	}
}

// looksLikeHTTP reports whether a TLS record header is the start of an
// HTTP/1.x request line instead.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// Accept returns the next connection whose handshake is complete.
func (l *strictTLSListener) Accept() (net.Conn, error) {
	select {
	case <-l.done: // first: none is handed out once closed
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes ln; handshakes under way end with their connections
// closed.
func (l *strictTLSListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}
