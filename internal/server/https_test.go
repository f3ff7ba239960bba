package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/certs"
	"github.com/slipwayhq/slipway/internal/certs/pebbletest"
	"github.com/slipwayhq/slipway/internal/gateway"
)

// TestGatewayHTTPSWithTLSALPN: with HTTP-01 turned off, a certificate
// is issued by pebble through TLS-ALPN-01 answered on the gateway's HTTPS
// listener as the server builds it (TLS ending in a StrictTLSListener),
// and then served over HTTP/2, the app seeing X-Forwarded-Proto: https.
func TestGatewayHTTPSWithTLSALPN(t *testing.T) {
	httpLn := loopbackListener(t) // only holds the HTTP-01 port pebble is given
	tlsLn := loopbackListener(t)
	p := pebbletest.Start(t, portInt(t, httpLn), portInt(t, tlsLn))
	mgr, err := certs.New(certs.Config{Dir: t.TempDir(), CA: p.DirURL, RootCAs: p.Trust,
		HTTPAddr: httpLn.Addr().String(), HTTPSAddr: tlsLn.Addr().String(), DisableHTTPChallenge: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })

	const host = "alpn.slipway.test"
	app := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"proto": r.Header.Get("X-Forwarded-Proto")})
	})}
	appLn := loopbackListener(t)
	go app.Serve(appLn)
	t.Cleanup(func() { app.Close() })
	gw := gateway.New(gateway.Config{})
	gw.Update(gateway.NewRouteTable([]gateway.Route{{Host: host, Stack: "s", Stage: "dev",
		Backends: []gateway.Backend{{ID: "i1", Addr: appLn.Addr().String()}}}}))
	t.Cleanup(gw.CloseIdleConnections)
	srv, ln := gatewayHTTPS(gw, mgr.TLSConfig(), tlsLn)
	srv.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	if err := mgr.Manage(t.Context(), []string{host}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !mgr.HasCert(host) {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s within a minute", host)
		}
		time.Sleep(50 * time.Millisecond)
	}

	roots := x509.NewCertPool()
	roots.AddCert(p.IssuingRoot(t))
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: host, RootCAs: roots}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+tlsLn.Addr().String()+"/", nil)
	req.Host = host
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" || got["proto"] != "https" {
		t.Fatalf("got %s %d, app saw X-Forwarded-Proto %q; want HTTP/2.0 200 and https", resp.Proto, resp.StatusCode, got["proto"])
	}
}

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func portInt(t *testing.T, ln net.Listener) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
