package gateway

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// selfSigned makes a certificate for testHost and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testHost},
		DNSNames:     []string{testHost, "short.hello.localhost", "nowhere.localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// sawTLS wraps h and records, per request path, whether the handler saw
// r.TLS and which protocol the request came in.
type sawTLS struct {
	h    http.Handler
	mu   sync.Mutex
	seen map[string]string
}

func (s *sawTLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	s.seen[r.URL.Path] = fmt.Sprintf("%s tls=%t", r.Proto, r.TLS != nil && r.TLS.HandshakeComplete)
	s.mu.Unlock()
	s.h.ServeHTTP(w, r)
}

func (s *sawTLS) get(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[path]
}

// TestStrictTLSListener serves the gateway over HTTPS the way the server
// does: ambiguous framing over HTTPS/1.1 gets 400 and a close before any
// backend sees it, HTTP/2 is still negotiated and served, handlers see
// r.TLS for both (so apps get X-Forwarded-Proto: https), a TLS-ALPN-01
// handshake is answered, and a client that never finishes its handshake
// holds up no other.
func TestStrictTLSListener(t *testing.T) {
	var hits atomic.Int32
	echo := echoBackend(t, "a")
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echo.Config.Handler.ServeHTTP(w, r)
	})
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bsrv := &http.Server{Handler: backend}
	go bsrv.Serve(bl)
	t.Cleanup(func() { bsrv.Close() })

	g := New(Config{})
	g.Update(NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: bl.Addr().String()}}}}))
	t.Cleanup(g.CloseIdleConnections)
	saw := &sawTLS{h: g}
	addr, dial, roots := strictFront(t, saw, true)

	// Opened first and never finished: the others must not wait for it.
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()

	t.Run("smuggling over HTTPS/1.1", func(t *testing.T) {
		before := hits.Load()
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if p := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("negotiated %q, want http/1.1", p)
		}
		smuggled := "GET /smuggled HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n"
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: "+testHost+"\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		if _, err := http.ReadResponse(br, nil); err == nil {
			t.Fatal("a second response: the connection was kept open")
		}
		if n := hits.Load(); n != before {
			t.Fatalf("backend got %d requests, want %d", n, before)
		}
	})

	t.Run("HTTPS/1.1", func(t *testing.T) {
		c := dial()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /h1 HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := decodeSeen(t, body)
		if resp.StatusCode != http.StatusOK || s.Header.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("got %d, X-Forwarded-Proto %q; want 200, https", resp.StatusCode, s.Header.Get("X-Forwarded-Proto"))
		}
		if got := saw.get("/h1"); got != "HTTP/1.1 tls=true" {
			t.Errorf("handler saw %q, want HTTP/1.1 with r.TLS", got)
		}
	})

	t.Run("HTTP/2", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: testHost}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("POST", "https://"+addr+"/h2", strings.NewReader("over h2"))
		req.Host = testHost
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var s seen
		json.Unmarshal(body, &s)
		if resp.Proto != "HTTP/2.0" || resp.StatusCode != http.StatusOK || s.Body != "over h2" || s.Header.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("got %s %d %q, want HTTP/2.0 200 with the body and X-Forwarded-Proto https", resp.Proto, resp.StatusCode, body)
		}
		if got := saw.get("/h2"); got != "HTTP/2.0 tls=true" {
			t.Errorf("handler saw %q, want HTTP/2.0 with r.TLS", got)
		}
	})

	t.Run("TLS-ALPN-01 handshake", func(t *testing.T) {
		// certmagic answers the challenge in GetCertificate; all the
		// listener must do is complete the handshake, then close.
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: testHost, NextProtos: []string{"acme-tls/1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "acme-tls/1" {
			t.Fatalf("negotiated %q, want acme-tls/1", p)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("read after an acme-tls/1 handshake: %v, want the connection closed", err)
		}
	})

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		resp, body := rawRoundTrip(t, addr, "GET / HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS server") {
			t.Fatalf("got %d %q, want net/http's 400", resp.StatusCode, body)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestStrictTLSListenerClose: Accept returns an error once the listener
// is closed, and a handshake that finishes afterwards is not leaked.
func TestStrictTLSListenerClose(t *testing.T) {
	cert, roots := selfSigned(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := StrictTLSListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: testHost})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("accept: %v", err)
	}
	// A client handshakes while nobody accepts, then the listener closes.
	c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: testHost})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v, want net.ErrClosed", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a connection never accepted: %v, want it closed", err)
	}
}
