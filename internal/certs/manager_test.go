package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestHTTPSURL(t *testing.T) {
	tests := []struct {
		host, port, uri, want string
	}{
		{"api.example.com", "", "/", "https://api.example.com/"},
		{"api.example.com", "", "/a/b?c=d&e", "https://api.example.com/a/b?c=d&e"},
		{"api.example.com", "8443", "/x%20y", "https://api.example.com:8443/x%20y"},
		{"api.example.com", "", "", "https://api.example.com/"},
		{"api.example.com", "", "*", "https://api.example.com/"},
	}
	for _, tt := range tests {
		if got := httpsURL(tt.host, tt.port, tt.uri); got != tt.want {
			t.Errorf("httpsURL(%q, %q, %q) = %q, want %q", tt.host, tt.port, tt.uri, got, tt.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "Dir is required"},
		{"no challenge", Config{Dir: dir, DisableHTTPChallenge: true, DisableTLSALPNChallenge: true}, "both challenges"},
		{"bad http addr", Config{Dir: dir, HTTPAddr: "80"}, "http address"},
		{"zero https port", Config{Dir: dir, HTTPSAddr: ":0"}, "https address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err == nil {
				m.Close()
				t.Fatalf("New(%+v) succeeded, want error containing %q", tt.cfg, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestManagerWithoutCA covers what needs no CA: validation, the plain-HTTP
// fallthrough and the refusal to serve unmanaged names. The CA address
// points nowhere, and nothing here may reach it.
func TestManagerWithoutCA(t *testing.T) {
	m, err := New(Config{
		Dir:       t.TempDir(),
		CA:        "https://127.0.0.1:1/dir",
		HTTPAddr:  "127.0.0.1:18080",
		HTTPSAddr: "127.0.0.1:18443",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	err = m.Manage(t.Context(), []string{"ok.example.com", "Bad.example.com"})
	if !errors.Is(err, ErrInvalidDomain) {
		t.Fatalf("Manage with an invalid name = %v, want ErrInvalidDomain", err)
	}
	if m.managed("ok.example.com") {
		t.Error("a failed Manage changed the managed set")
	}

	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("next")) })
	rec := httptest.NewRecorder()
	m.HTTPHandler(next).ServeHTTP(rec, httptest.NewRequest("GET", "http://other.example.com/x", nil))
	if rec.Code != 200 || rec.Body.String() != "next" {
		t.Errorf("host without a certificate: %d %q, want 200 from next", rec.Code, rec.Body)
	}
	if m.HasCert("other.example.com") {
		t.Error("HasCert true for an unmanaged host")
	}
	if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.example.com"}); err == nil ||
		!strings.Contains(err.Error(), "not a managed domain") {
		t.Errorf("GetCertificate(unmanaged) = %v, want not a managed domain", err)
	}
	if got := m.TLSConfig().NextProtos; strings.Join(got, ",") != "h2,http/1.1,acme-tls/1" {
		t.Errorf("NextProtos = %v", got)
	}

	m.Close()
	if err := m.Manage(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Manage after Close = %v, want ErrClosed", err)
	}
}

func TestZapLoggerWritesThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	z := newZapLogger(l).Named("obtain").With(zap.String("identifier", "a.example.com"))
	z.Debug("hidden")
	z.Error("obtaining certificate", zap.Error(errors.New("boom")))
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug entry passed an info-level handler: %s", out)
	}
	for _, want := range []string{"level=ERROR", `msg="obtaining certificate"`, "logger=obtain", "identifier=a.example.com", "error=boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %q lacks %q", out, want)
		}
	}
}
