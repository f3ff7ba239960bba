package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// ACME directories for Config.CA.
const (
	DefaultCA = certmagic.LetsEncryptProductionCA
	StagingCA = certmagic.LetsEncryptStagingCA
)

// Config configures a Manager.
type Config struct {
	// Dir holds certificates, keys and the ACME account
	// (<data-dir>/certs). Required.
	Dir string
	// CA is the ACME directory URL; DefaultCA if empty.
	CA string
	// Email is given to the CA for the account (expiry notices); optional.
	Email string
	// RootCAs, if set, is the trust for the CA's own HTTPS endpoint (test
	// CAs such as pebble); the system roots otherwise.
	RootCAs *x509.CertPool
	// HTTPAddr and HTTPSAddr are the addresses of the caller's plain and TLS
	// listeners (":80" and ":443" if empty). The challenge solvers rely on
	// them and bind nothing of their own, as long as they are bound before
	// Manage is called. The HTTPS port also goes into redirects.
	HTTPAddr, HTTPSAddr string
	// DisableHTTPChallenge and DisableTLSALPNChallenge turn one challenge
	// off, e.g. when port 80 is not reachable from the internet.
	DisableHTTPChallenge, DisableTLSALPNChallenge bool
	// Logger receives certmagic's logs too; slog.Default() if nil.
	Logger *slog.Logger
}

// Manager obtains, stores, renews and serves the certificates of the
// managed domains.
type Manager struct {
	log       *slog.Logger
	magic     *certmagic.Config
	issuer    *certmagic.ACMEIssuer
	cache     *certmagic.Cache
	httpsPort string // "" when 443

	// ctx bounds background obtains and renewals: they outlive the
	// Manage call that started them, and stop at Close.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex // serializes Manage
	domains   atomic.Pointer[map[string]struct{}]
	closeOnce sync.Once
}

var _ io.Closer = (*Manager)(nil)

// ErrClosed is returned by Manage after Close.
var ErrClosed = errors.New("certs: manager closed")

// New returns a Manager with no managed domains; certificates already in
// cfg.Dir are loaded when their domains are passed to Manage.
func New(cfg Config) (*Manager, error) {
	if cfg.Dir == "" {
		return nil, errors.New("certs: Dir is required")
	}
	if cfg.DisableHTTPChallenge && cfg.DisableTLSALPNChallenge {
		return nil, errors.New("certs: both challenges are disabled; no certificate could be obtained")
	}
	if cfg.CA == "" {
		cfg.CA = DefaultCA
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":80"
	}
	if cfg.HTTPSAddr == "" {
		cfg.HTTPSAddr = ":443"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	httpHost, httpPort, err := splitAddr(cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("certs: http address: %w", err)
	}
	tlsHost, tlsPort, err := splitAddr(cfg.HTTPSAddr)
	if err != nil {
		return nil, fmt.Errorf("certs: https address: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}

	m := &Manager{log: cfg.Logger.With("component", "certs")}
	if tlsPort != 443 {
		m.httpsPort = strconv.Itoa(tlsPort)
	}
	m.domains.Store(&map[string]struct{}{})
	m.ctx, m.cancel = context.WithCancel(context.Background())
	zl := newZapLogger(m.log)

	// One cache and one config per Manager, never certmagic's package
	// defaults, so two Managers in a process (tests, restarts) stay apart.
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: cfg.Dir},
		Logger:  zl,
	})
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:           cfg.CA,
		Email:        cfg.Email,
		Agreed:       true, // running the server with ACME on is the agreement
		TrustedRoots: cfg.RootCAs,
		// The solvers try to bind ListenHost:Alt…Port; finding the
		// caller's listener there, they leave the challenge to it
		// (HTTPHandler for HTTP-01, TLSConfig for TLS-ALPN-01).
		ListenHost:              listenHost(httpHost, tlsHost),
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		DisableHTTPChallenge:    cfg.DisableHTTPChallenge,
		DisableTLSALPNChallenge: cfg.DisableTLSALPNChallenge,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	m.log.Debug("certificate manager ready", "ca", cfg.CA, "dir", cfg.Dir,
		"http_addr", cfg.HTTPAddr, "https_addr", cfg.HTTPSAddr)
	return m, nil
}

// splitAddr splits a listener address into host and a non-zero port.
func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port must be 1-65535", addr)
	}
	return host, port, nil
}

// listenHost is the one host certmagic's solvers may use for both ports.
// With the wildcard host a bind still collides with a listener on a
// specific address, which is all the solvers need to see.
func listenHost(httpHost, tlsHost string) string {
	if httpHost == tlsHost {
		return httpHost
	}
	return ""
}

// Manage makes domains the whole managed set: certificates for new names
// are loaded from Dir or obtained, in the background (watch HasCert);
// names left out are no longer served or renewed (their files stay in
// Dir, so adding them back is free). Renewals are certmagic's. An invalid
// name fails the call and changes nothing. Background work is bound to the
// Manager, not to ctx, and ends at Close.
func (m *Manager) Manage(ctx context.Context, domains []string) error {
	want, err := domainSet(domains)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return ErrClosed
	}
	add, remove := diffDomains(*m.domains.Load(), want)
	m.domains.Store(&want)
	if len(remove) > 0 {
		subjects := make([]certmagic.SubjectIssuer, len(remove))
		for i, d := range remove {
			subjects[i] = certmagic.SubjectIssuer{Subject: d}
		}
		m.cache.RemoveManaged(subjects)
		m.log.Info("stopped managing certificates", "domains", remove)
	}
	if len(add) > 0 {
		if err := m.magic.ManageAsync(m.ctx, add); err != nil {
			return fmt.Errorf("manage certificates: %w", err)
		}
		m.log.Info("managing certificates", "domains", add)
	}
	return nil
}

// managed reports whether host is in the managed set.
func (m *Manager) managed(host string) bool {
	_, ok := (*m.domains.Load())[host]
	return ok
}

// HasCert reports whether host is managed and has an unexpired certificate
// loaded, i.e. whether an HTTPS request for it would succeed.
func (m *Manager) HasCert(host string) bool {
	host = hostOnly(host)
	if !m.managed(host) {
		return false
	}
	for _, c := range m.cache.AllMatchingCertificates(host) {
		if !c.Empty() && !c.Expired() {
			return true
		}
	}
	return false
}

// GetCertificate picks the certificate of a managed domain by SNI, or the
// key-authorization certificate of a TLS-ALPN-01 challenge in progress.
// It fails for any other name, so a caller with certificates of its own
// should ask HasCert first.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	isChallenge := len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol
	if name := hostOnly(hello.ServerName); !isChallenge && !m.managed(name) {
		return nil, fmt.Errorf("no certificate for %q: not a managed domain", name)
	}
	return m.magic.GetCertificate(hello)
}

// TLSConfig returns a config for the caller's HTTPS listener: managed
// certificates by SNI, HTTP/2 and HTTP/1.1, and acme-tls/1 so that
// TLS-ALPN-01 challenges are answered on that listener.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: m.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1", acmez.ACMETLS1Protocol},
		MinVersion:     tls.VersionTLS12,
	}
}

// HTTPHandler wraps next for the caller's plain-HTTP listener: it answers
// HTTP-01 challenges, redirects a host that has a certificate to https
// (308, so methods and bodies survive), and passes everything else to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		if host := hostOnly(r.Host); m.HasCert(host) {
			http.Redirect(w, r, httpsURL(host, m.httpsPort, r.URL.RequestURI()), http.StatusPermanentRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Intercepts reports whether HTTPHandler may answer a request for host
// and path itself (an ACME HTTP-01 challenge, or a redirect to HTTPS)
// rather than pass it on: a front end that serves some requests without
// HTTPHandler sends these to it.
func (m *Manager) Intercepts(host, path string) bool {
	return strings.HasPrefix(path, "/.well-known/acme-challenge/") || m.HasCert(host)
}

// httpsURL is where a plain-HTTP request for host and requestURI goes;
// port is omitted when empty (443).
func httpsURL(host, port, requestURI string) string {
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	if requestURI == "" || requestURI[0] != '/' {
		requestURI = "/"
	}
	return "https://" + host + requestURI
}

// Close stops renewals and background obtains. Certificates stay in Dir.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.cancel()
		m.mu.Unlock()
		m.cache.Stop()
	})
	return nil
}
