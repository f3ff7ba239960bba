package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/certs/pebbletest"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// gatewayStub plays the server: it owns a plain and a TLS listener on
// loopback high ports and mounts whichever Manager is current, the way the
// gateway mounts HTTPHandler and TLSConfig. It counts what the CA asked of
// each listener, so the test knows which challenge was solved where.
type gatewayStub struct {
	httpLn, tlsLn  net.Listener
	current        atomic.Pointer[Manager]
	httpChallenges atomic.Int32 // GET /.well-known/acme-challenge/… on the plain listener
	alpnHellos     atomic.Int32 // acme-tls/1 handshakes on the TLS listener
}

func newGatewayStub(t *testing.T) *gatewayStub {
	t.Helper()
	g := &gatewayStub{}
	var err error
	if g.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if g.tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "app %s", r.Host) })
	plain := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
				g.httpChallenges.Add(1)
			}
			g.current.Load().HTTPHandler(app).ServeHTTP(w, r)
		}),
	}
	tlsConfig := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Equal(hello.SupportedProtos, []string{"acme-tls/1"}) {
			g.alpnHellos.Add(1)
		}
		return g.current.Load().TLSConfig(), nil
	}}
	secure := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second, ErrorLog: discardLog()}
	go plain.Serve(g.httpLn)
	go secure.Serve(tls.NewListener(g.tlsLn, tlsConfig))
	t.Cleanup(func() {
		plain.Close()
		secure.Close()
	})
	return g
}

// get sends a request for host to the plain or TLS listener; over TLS the
// SNI is host and only roots are trusted. Redirects are not followed.
func (g *gatewayStub) get(overTLS bool, host, path string, roots *x509.CertPool) (*http.Response, string, error) {
	ln, scheme := g.httpLn, "http"
	if overTLS {
		ln, scheme = g.tlsLn, "https"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
			},
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(scheme + "://" + net.JoinHostPort(host, port) + path)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// TestManagerWithPebble issues real certificates from pebble through both
// challenges on listeners the test owns, serves them by SNI, redirects,
// survives a restart without a new order, and lets a domain go.
func TestManagerWithPebble(t *testing.T) {
	g := newGatewayStub(t)
	p := pebbletest.Start(t, portOf(t, g.httpLn), portOf(t, g.tlsLn))
	root := p.IssuingRoot(t)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", logs)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	newManager := func(dir string, disableHTTP, disableALPN bool) *Manager {
		t.Helper()
		m, err := New(Config{
			Dir:                     dir,
			CA:                      p.DirURL,
			RootCAs:                 p.Trust,
			HTTPAddr:                g.httpLn.Addr().String(),
			HTTPSAddr:               g.tlsLn.Addr().String(),
			DisableHTTPChallenge:    disableHTTP,
			DisableTLSALPNChallenge: disableALPN,
			Logger:                  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		g.current.Store(m)
		return m
	}
	// serves checks an HTTPS request for host gets the app, under a chain
	// to pebble's root, and returns the leaf.
	serves := func(host string) *x509.Certificate {
		t.Helper()
		resp, body, err := g.get(true, host, "/hello", roots)
		if err != nil {
			t.Fatalf("HTTPS GET %s: %v", host, err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "app "+host) {
			t.Fatalf("HTTPS GET %s = %d %q, want 200 from the app", host, resp.StatusCode, body)
		}
		leaf := resp.TLS.PeerCertificates[0]
		if !slices.Equal(leaf.DNSNames, []string{host}) {
			t.Errorf("served leaf names %v, want [%s]", leaf.DNSNames, host)
		}
		if n := len(resp.TLS.PeerCertificates); n < 2 {
			t.Errorf("served chain has %d certificates, want the leaf and pebble's intermediate", n)
		}
		chain := resp.TLS.VerifiedChains[0]
		if !chain[len(chain)-1].Equal(root) {
			t.Errorf("chain ends at %q, not pebble's root", chain[len(chain)-1].Subject)
		}
		return leaf
	}

	const viaHTTP, viaALPN = "http01.slipway.test", "tlsalpn.slipway.test"
	dirHTTP := t.TempDir()
	var first *Manager // the http-01 manager, closed to simulate a restart

	t.Run("http-01", func(t *testing.T) {
		m := newManager(dirHTTP, false, true)
		first = m
		if err := m.Manage(ctx, []string{viaHTTP}); err != nil {
			t.Fatal(err)
		}
		waitCert(t, m, viaHTTP, time.Minute)
		if g.httpChallenges.Load() == 0 {
			t.Error("no HTTP-01 request reached the plain listener")
		}
		serves(viaHTTP)
	})
	leaf := serves(viaHTTP) // leaf of the first issuance, for the restart

	t.Run("redirect", func(t *testing.T) {
		resp, _, err := g.get(false, viaHTTP, "/some/path?q=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, tlsPort, _ := net.SplitHostPort(g.tlsLn.Addr().String())
		want := "https://" + viaHTTP + ":" + tlsPort + "/some/path?q=1"
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("plain GET = %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		resp, body, err := g.get(false, "other.slipway.test", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "app other.slipway.test") {
			t.Errorf("plain GET for a host without a certificate = %d %q, want the app", resp.StatusCode, body)
		}
	})

	t.Run("tls-alpn-01", func(t *testing.T) {
		before := g.httpChallenges.Load()
		m := newManager(t.TempDir(), true, false)
		if err := m.Manage(ctx, []string{viaALPN}); err != nil {
			t.Fatal(err)
		}
		waitCert(t, m, viaALPN, time.Minute)
		if g.alpnHellos.Load() == 0 {
			t.Error("no acme-tls/1 handshake reached the TLS listener")
		}
		if g.httpChallenges.Load() != before {
			t.Error("HTTP-01 was used although disabled")
		}
		serves(viaALPN)
	})

	t.Run("restart", func(t *testing.T) {
		orders := p.Orders()
		if orders < 2 {
			t.Fatalf("pebble logged %d orders, want at least 2 by now; is its log format different?", orders)
		}
		first.Close()
		m := newManager(dirHTTP, false, true)
		if err := m.Manage(ctx, []string{viaHTTP}); err != nil {
			t.Fatal(err)
		}
		waitCert(t, m, viaHTTP, 10*time.Second)
		if again := serves(viaHTTP); again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Errorf("after restart served serial %x, want the stored %x", again.SerialNumber, leaf.SerialNumber)
		}
		time.Sleep(time.Second) // room for a wrongly started order to show
		if now := p.Orders(); now != orders {
			t.Errorf("restart placed %d new orders, want 0", now-orders)
		}

		if err := m.Manage(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if m.HasCert(viaHTTP) {
			t.Error("HasCert true after the domain was dropped")
		}
		if _, _, err := g.get(true, viaHTTP, "/", roots); err == nil {
			t.Error("HTTPS still served a dropped domain")
		}
		resp, _, err := g.get(false, viaHTTP, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Errorf("plain GET for a dropped domain = %d, want 200 from the app", resp.StatusCode)
		}
	})
}

// waitCert waits until m has a certificate for host.
func waitCert(t *testing.T, m *Manager, host string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !m.HasCert(host) {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s within %s", host, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// discardLog silences net/http's complaints about handshakes the test
// makes fail on purpose.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
