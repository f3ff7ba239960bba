package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn             // nil: only the deadlines are used
	got      time.Time   // the last read deadline
	writes   []time.Time // the write deadlines
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error { c.got = t; return nil }

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.writes = append(c.writes, t)
	return nil
}

// TestStrictConnIdleDeadline: only the server's idle deadline (further
// away than ReadHeaderTimeout + 1s) is replaced, and only on a
// connection with an idle timeout of its own.
func TestStrictConnIdleDeadline(t *testing.T) {
	now := time.Now()
	past := time.Unix(1, 0)
	tests := []struct {
		name string
		idle time.Duration
		set  time.Time
		want time.Duration // from now; -1: unchanged
	}{
		{"idle deadline, stage timeout", 5 * time.Second, now.Add(IdleTimeout), 5 * time.Second},
		{"idle deadline, longer stage timeout", 4000 * time.Second, now.Add(IdleTimeout), 4000 * time.Second},
		{"idle deadline, server's timeout", 0, now.Add(IdleTimeout), -1},
		{"header deadline", 5 * time.Second, now.Add(ReadHeaderTimeout), -1},
		{"no deadline", 5 * time.Second, time.Time{}, -1},
		{"abort (in the past)", 5 * time.Second, past, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := &deadlineConn{}
			c := &strictConn{Conn: dc}
			c.idle.Store(int64(tt.idle))
			before := time.Now()
			c.SetReadDeadline(tt.set)
			if tt.want < 0 {
				if !dc.got.Equal(tt.set) {
					t.Fatalf("deadline %v, want %v unchanged", dc.got, tt.set)
				}
				return
			}
			if d := dc.got.Sub(before); d < tt.want || d > tt.want+time.Second {
				t.Fatalf("deadline in %v, want %v", d, tt.want)
			}
		})
	}
}

// TestIdleTimeoutPerRoute serves the gateway on a real http.Server with
// the recommended settings: a keep-alive connection whose last request
// went to a route with a 1 s idle timeout is closed after about 1 s idle,
// while those whose last request went to a route without one, or to no
// route, stay open (the server's 60 s). Over plain HTTP and HTTPS/1.1.
//
// It also guards what idle.go relies on: should net/http stop setting
// the idle wait as a read deadline on the connection, the short ones
// would stay open and the test fail.
func TestIdleTimeoutPerRoute(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		name := "http"
		if overTLS {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backend := echoBackend(t, "a")
			short := route("short.hello.localhost", backend)
			short.IdleTimeout = time.Second
			g := New(Config{})
			g.Update(NewRouteTable([]Route{route(testHost, backend), short}))
			t.Cleanup(g.CloseIdleConnections)
			_, dial, _ := strictFront(t, g, overTLS)

			type conn struct {
				hosts  []string // the requests sent, by host
				closes bool     // after the idle timeout of the short route
				c      net.Conn
				br     *bufio.Reader
				idle   time.Time // when the last response was read
			}
			conns := []*conn{
				{hosts: []string{"short.hello.localhost"}, closes: true},
				{hosts: []string{testHost, "short.hello.localhost"}, closes: true},
				{hosts: []string{testHost}},
				{hosts: []string{"short.hello.localhost", testHost}},
				{hosts: []string{"short.hello.localhost", "nowhere.localhost"}},
			}
			for _, c := range conns {
				c.c = dial()
				c.br = bufio.NewReader(c.c)
				for _, h := range c.hosts {
					roundTripOn(t, c.c, c.br, h)
				}
				c.idle = time.Now()
			}
			for _, c := range conns {
				if !c.closes {
					continue
				}
				c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err := c.br.ReadByte()
				idled := time.Since(c.idle)
				if err == nil || isTimeout(err) {
					t.Fatalf("%v: read %v after %v idle; want the connection closed after 1 s", c.hosts, err, idled)
				}
				if idled < 800*time.Millisecond {
					t.Errorf("%v: closed after %v idle, before the route's 1 s", c.hosts, idled)
				}
			}
			// The short ones are closed: the others have idled over 1 s.
			for _, c := range conns {
				if !c.closes {
					roundTripOn(t, c.c, c.br, testHost)
				}
			}
		})
	}
}

// strictFront serves h the way the server package serves the gateway:
// over a StrictListener, or a StrictTLSListener (HTTP/2 and HTTP/1.1,
// plus acme-tls/1 as certmagic's TLSConfig offers it) when overTLS, with
// the recommended settings and ConnContext. dial opens a client
// connection speaking HTTP/1.1 (over TLS when overTLS).
func strictFront(t *testing.T, h http.Handler, overTLS bool) (addr string, dial func() net.Conn, roots *x509.CertPool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, MaxHeaderBytes: MaxHeaderBytes,
		IdleTimeout: IdleTimeout, ConnContext: ConnContext}
	var cert tls.Certificate
	if overTLS {
		cert, roots = selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}}
		ln = StrictTLSListener(ln, srv.TLSConfig)
	} else {
		ln = StrictListener(ln)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	addr = ln.Addr().String()
	dial = func() net.Conn {
		t.Helper()
		var c net.Conn
		var err error
		if overTLS {
			c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: testHost, NextProtos: []string{"http/1.1"}})
		} else {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return addr, dial, roots
}

// roundTripOn sends a GET for host on c and reads the response.
func roundTripOn(t *testing.T, c net.Conn, br *bufio.Reader, host string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v (the connection was closed?)", host, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want := http.StatusOK
	if host == "nowhere.localhost" {
		want = http.StatusNotFound
	}
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d", host, resp.StatusCode, want)
	}
}
