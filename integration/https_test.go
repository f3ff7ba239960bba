package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/certs/pebbletest"
)

// TestCustomDomainHTTPS: `slipway domain add` gets a certificate from an
// ACME CA (Debian's pebble, on loopback), the stage answers HTTPS with
// it over HTTP/2, and plain HTTP to that host redirects to HTTPS.
func TestCustomDomainHTTPS(t *testing.T) {
	gwAddr, httpsAddr := freeAddr(t), freeAddr(t)
	p := pebbletest.Start(t, portNum(t, gwAddr), portNum(t, httpsAddr))
	s := startServer(t, "--gateway-addr", gwAddr, "--https-addr", httpsAddr,
		"--acme-ca", p.DirURL, "--acme-ca-root", p.CertFile, "--acme-email", "ops@example.com")
	app := fixtureApp(t, "tls", "")
	s.mustRun(app, "deploy", "-q")
	s.mustRun(app, "domain", "add", "tls", "dev", "app.example.test")

	roots := x509.NewCertPool()
	roots.AddCert(p.IssuingRoot(t))
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{ServerName: "app.example.test", RootCAs: roots},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	eventually(t, 60*time.Second, "HTTPS with an issued certificate", func() error {
		req, _ := http.NewRequest("GET", "https://"+httpsAddr+"/ping", nil)
		req.Host = "app.example.test"
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "pong" || resp.Proto != "HTTP/2.0" {
			return fmt.Errorf("%s %d %q", resp.Proto, resp.StatusCode, body)
		}
		return nil
	})
	// Plain HTTP to the domain now redirects.
	req, _ := http.NewRequest("GET", "http://"+gwAddr+"/ping?x=1", nil)
	req.Host = "app.example.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(loc, "https://app.example.test") || !strings.HasSuffix(loc, "/ping?x=1") {
		t.Fatalf("plain HTTP to a domain with a certificate: %d %q", resp.StatusCode, loc)
	}
	// The stage's own name is still served over plain HTTP.
	if code, body, _ := s.gw("GET", "dev.tls.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("stage host: %d %q", code, body)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func portNum(t *testing.T, addr string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
