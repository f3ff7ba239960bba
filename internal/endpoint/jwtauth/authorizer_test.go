package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/testutil"
)

const (
	testIssuer   = "https://idp.example.com/"
	testAudience = "slipway-api"
)

// Keys are generated once: RSA generation is slow under -race.
var (
	rsaKey, rsaKey2, rsaImpostor *rsa.PrivateKey
	ecKey                        *ecdsa.PrivateKey
	edKey                        ed25519.PrivateKey
)

func init() {
	var err error
	for _, k := range []**rsa.PrivateKey{&rsaKey, &rsaKey2, &rsaImpostor} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
}

// idp is a JWKS server that counts its fetches.
type idp struct {
	srv     *httptest.Server
	fetches atomic.Int32

	mu           sync.Mutex
	keys         []jwk.Key
	status       int
	cacheControl string
	delay        time.Duration // before answering, to make fetches overlap
}

func newIDP(t *testing.T, keys ...jwk.Key) *idp {
	t.Helper()
	p := &idp{keys: keys, status: http.StatusOK}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		time.Sleep(p.delay)
		if p.status != http.StatusOK {
			http.Error(w, "down", p.status)
			return
		}
		set := jwk.NewSet()
		for _, k := range p.keys {
			if err := set.AddKey(k); err != nil {
				t.Errorf("add key: %v", err)
			}
		}
		if p.cacheControl != "" {
			w.Header().Set("Cache-Control", p.cacheControl)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) setKeys(keys ...jwk.Key) { p.mu.Lock(); p.keys = keys; p.mu.Unlock() }
func (p *idp) setStatus(s int)         { p.mu.Lock(); p.status = s; p.mu.Unlock() }

// publicJWK is the JWKS entry for priv.
func publicJWK(t *testing.T, priv crypto.Signer, kid string, alg jwa.SignatureAlgorithm) jwk.Key {
	t.Helper()
	k, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatalf("import key: %v", err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	return k
}

// sign makes a compact JWS of claims with kid in its header.
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	if kid != "" {
		if err := h.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return string(tok)
}

// unsigned makes an alg "none" token, which jws.Sign rightly refuses.
func unsigned(kid string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]any{"alg": "none", "kid": kid})
	body, _ := json.Marshal(claims)
	return enc.EncodeToString(hdr) + "." + enc.EncodeToString(body) + "."
}

// claims are valid ones for the test spec, changed by kv pairs (a nil
// value deletes the claim).
func claims(kv ...any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "user-1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// fakeClock is a settable clock for the rate-limit tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func testSpec(p *idp) core.JWTSpec {
	return core.JWTSpec{Issuer: testIssuer, Audiences: []string{"other", testAudience}, JWKSURL: p.srv.URL}
}

func newTestAuthorizer(t *testing.T, spec core.JWTSpec, cfg config, logger *slog.Logger) *Authorizer {
	t.Helper()
	a, err := newAuthorizer(spec, nil, logger, cfg)
	if err != nil {
		t.Fatalf("new authorizer: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func request(path, token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func standardIDP(t *testing.T) *idp {
	return newIDP(t,
		publicJWK(t, rsaKey, "rsa-1", jwa.RS256()),
		publicJWK(t, ecKey, "ec-1", jwa.ES256()),
		publicJWK(t, edKey, "ed-1", jwa.EdDSA()),
	)
}

func TestAuthorizeValidTokens(t *testing.T) {
	p := standardIDP(t)
	a := newTestAuthorizer(t, testSpec(p), defaultConfig(), nil)
	for _, tc := range []struct {
		name string
		alg  jwa.SignatureAlgorithm
		key  any
		kid  string
	}{
		{"RS256", jwa.RS256(), rsaKey, "rsa-1"},
		{"ES256", jwa.ES256(), ecKey, "ec-1"},
		{"EdDSA", jwa.EdDSA(), edKey, "ed-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, tc.alg, tc.key, tc.kid, claims("sub", "alice-"+tc.name, "scope", "read write"))
			res, err := a.Authorize(context.Background(), request("/things", tok))
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if res.Subject != "alice-"+tc.name {
				t.Errorf("subject = %q", res.Subject)
			}
			if res.Claims["iss"] != testIssuer {
				t.Errorf("claims[iss] = %v", res.Claims["iss"])
			}
			if _, ok := res.Claims["exp"].(json.Number); !ok {
				t.Errorf("claims[exp] is %T, want json.Number", res.Claims["exp"])
			}
			if strings.Join(res.Scopes, " ") != "read write" {
				t.Errorf("scopes = %q", res.Scopes)
			}
		})
	}
	if n := p.fetches.Load(); n != 1 {
		t.Errorf("jwks fetched %d times, want 1 (cached)", n)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	p := standardIDP(t)
	a := newTestAuthorizer(t, testSpec(p), defaultConfig(), nil)
	now := time.Now()
	rs := func(c map[string]any) string { return sign(t, jwa.RS256(), rsaKey, "rsa-1", c) }

	for _, tc := range []struct {
		name   string
		header string // the whole Authorization header; "-" for none
		want   error  // nil: authorized
	}{
		{"missing header", "-", ErrMissingToken},
		{"empty bearer", "Bearer ", ErrMissingToken},
		{"bare token accepted", rs(claims()), nil},
		{"lowercase scheme", "bearer " + rs(claims()), nil},
		{"malformed", "Bearer not-a-jwt", ErrInvalidToken},
		{"malformed three parts", "Bearer a.b.c", ErrInvalidToken},
		{"alg none", "Bearer " + unsigned("rsa-1", claims()), ErrInvalidToken},
		{"alg HS256", "Bearer " + sign(t, jwa.HS256(), []byte("secret-secret-secret-secret-1234"), "rsa-1", claims()), ErrInvalidToken},
		{"no kid", "Bearer " + sign(t, jwa.RS256(), rsaKey, "", claims()), ErrInvalidToken},
		{"wrong signature, same kid", "Bearer " + sign(t, jwa.RS256(), rsaImpostor, "rsa-1", claims()), ErrBadSignature},
		{"alg differs from key's", "Bearer " + sign(t, jwa.ES256(), ecKey, "rsa-1", claims()), ErrBadSignature},
		{"expired", "Bearer " + rs(claims("exp", now.Add(-time.Minute).Unix())), ErrExpired},
		{"expired within leeway", "Bearer " + rs(claims("exp", now.Add(-10*time.Second).Unix())), nil},
		{"no exp", "Bearer " + rs(claims("exp", nil)), ErrInvalidToken},
		{"exp not a number", "Bearer " + rs(claims("exp", "tomorrow")), ErrInvalidToken},
		{"not yet valid", "Bearer " + rs(claims("nbf", now.Add(time.Minute).Unix())), ErrNotYetValid},
		{"nbf within leeway", "Bearer " + rs(claims("nbf", now.Add(10*time.Second).Unix())), nil},
		{"issued in the future", "Bearer " + rs(claims("iat", now.Add(time.Minute).Unix())), ErrNotYetValid},
		{"wrong issuer", "Bearer " + rs(claims("iss", "https://evil.example.com/")), ErrWrongIssuer},
		{"no issuer", "Bearer " + rs(claims("iss", nil)), ErrWrongIssuer},
		{"wrong audience", "Bearer " + rs(claims("aud", "someone-else")), ErrWrongAudience},
		{"audience list", "Bearer " + rs(claims("aud", []string{"x", testAudience})), nil},
		{"client_id when no aud", "Bearer " + rs(claims("aud", nil, "client_id", testAudience)), nil},
		{"client_id ignored when aud present", "Bearer " + rs(claims("aud", "x", "client_id", testAudience)), ErrWrongAudience},
		{"neither aud nor client_id", "Bearer " + rs(claims("aud", nil)), ErrWrongAudience},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.header != "-" {
				r.Header.Set("Authorization", tc.header)
			}
			_, err := a.Authorize(context.Background(), r)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Authorize: %v, want authorized", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authorize error = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) {
				t.Errorf("error %v is not of class ErrUnauthorized only", err)
			}
		})
	}
}

func TestUnknownKidRefetchesOnceAndFindsRotatedKey(t *testing.T) {
	p := newIDP(t, publicJWK(t, rsaKey, "rsa-1", jwa.RS256()))
	clock := &fakeClock{now: time.Now()}
	cfg := defaultConfig()
	cfg.now = clock.Now
	a := newTestAuthorizer(t, testSpec(p), cfg, nil)
	ctx := context.Background()

	if _, err := a.Authorize(ctx, request("/", sign(t, jwa.RS256(), rsaKey, "rsa-1", claims()))); err != nil {
		t.Fatalf("first token: %v", err)
	}
	p.setKeys(publicJWK(t, rsaKey, "rsa-1", jwa.RS256()), publicJWK(t, rsaKey2, "rsa-2", jwa.RS256()))
	clock.Add(RefetchInterval + time.Second)

	// Requests that arrive while the refetch runs wait for it rather
	// than being refused or fetching again.
	p.mu.Lock()
	p.delay = 50 * time.Millisecond
	p.mu.Unlock()
	rotated := sign(t, jwa.RS256(), rsaKey2, "rsa-2", claims())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := a.Authorize(ctx, request("/", rotated)); err != nil {
				t.Errorf("rotated-in key: %v", err)
			}
		})
	}
	wg.Wait()
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (first use, then one refetch)", n)
	}
	for range 3 {
		if _, err := a.Authorize(ctx, request("/", rotated)); err != nil {
			t.Fatalf("rotated-in key again: %v", err)
		}
	}
	if n := p.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d after reuse, want still 2", n)
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	p := newIDP(t, publicJWK(t, rsaKey, "rsa-1", jwa.RS256()))
	clock := &fakeClock{now: time.Now()}
	cfg := defaultConfig()
	cfg.now = clock.Now
	a := newTestAuthorizer(t, testSpec(p), cfg, nil)
	ctx := context.Background()
	good := sign(t, jwa.RS256(), rsaKey, "rsa-1", claims())
	ghost := func(i int) string { return sign(t, jwa.RS256(), rsaKey2, "ghost-"+string(rune('a'+i%26)), claims()) }

	if _, err := a.Authorize(ctx, request("/", good)); err != nil {
		t.Fatal(err)
	}
	clock.Add(RefetchInterval + time.Second)

	// A flood of unknown kids, at once: one refetch between them.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := a.Authorize(ctx, request("/", ghost(i)))
			if !errors.Is(err, ErrUnknownKey) {
				t.Errorf("ghost kid: err = %v, want ErrUnknownKey", err)
			}
		})
	}
	wg.Wait()
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches after flood = %d, want 2", n)
	}

	// The rotated-in key shows up now, but within the interval we may not look.
	p.setKeys(publicJWK(t, rsaKey, "rsa-1", jwa.RS256()), publicJWK(t, rsaKey2, "rsa-2", jwa.RS256()))
	rotated := sign(t, jwa.RS256(), rsaKey2, "rsa-2", claims())
	clock.Add(RefetchInterval - time.Second)
	if _, err := a.Authorize(ctx, request("/", rotated)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within interval: err = %v, want ErrUnknownKey", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches within interval = %d, want 2", n)
	}
	if _, err := a.Authorize(ctx, request("/", good)); err != nil {
		t.Fatalf("known key while rate-limited: %v", err)
	}

	clock.Add(2 * time.Second)
	if _, err := a.Authorize(ctx, request("/", rotated)); err != nil {
		t.Fatalf("after interval: %v", err)
	}
	if n := p.fetches.Load(); n != 3 {
		t.Errorf("fetches after interval = %d, want 3", n)
	}
}

func TestFetchFailureKeepsKeysAndWarns(t *testing.T) {
	p := newIDP(t, publicJWK(t, rsaKey, "rsa-1", jwa.RS256()))
	clock := &fakeClock{now: time.Now()}
	cfg := defaultConfig()
	cfg.now = clock.Now
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := newTestAuthorizer(t, testSpec(p), cfg, logger)
	ctx := context.Background()
	good := sign(t, jwa.RS256(), rsaKey, "rsa-1", claims())

	if _, err := a.Authorize(ctx, request("/", good)); err != nil {
		t.Fatal(err)
	}
	p.setStatus(http.StatusInternalServerError)
	clock.Add(RefetchInterval + time.Second)

	_, err := a.Authorize(ctx, request("/", sign(t, jwa.RS256(), rsaKey2, "rsa-2", claims())))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid with IdP down: err = %v, want ErrUnknownKey", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
	if _, err := a.Authorize(ctx, request("/", good)); err != nil {
		t.Errorf("old key after failed fetch: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "fetch jwks failed") {
		t.Errorf("no warning logged; logs:\n%s", out)
	}
}

func TestBackgroundRefreshAndClose(t *testing.T) {
	p := newIDP(t, publicJWK(t, rsaKey, "rsa-1", jwa.RS256()))
	cfg := defaultConfig()
	cfg.defaultTTL, cfg.minTTL = 20*time.Millisecond, time.Millisecond
	a, err := newAuthorizer(testSpec(p), nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	time.Sleep(50 * time.Millisecond)
	if n := p.fetches.Load(); n != 0 {
		t.Fatalf("fetched %d times before first use, want 0", n)
	}
	if _, err := a.Authorize(context.Background(), request("/", sign(t, jwa.RS256(), rsaKey, "rsa-1", claims()))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.fetches.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fetches = %d after 5 s, want the refresher to refetch", p.fetches.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	_ = a.Close() // idempotent
	after := p.fetches.Load()
	time.Sleep(100 * time.Millisecond)
	if n := p.fetches.Load(); n != after {
		t.Errorf("fetches went %d -> %d after Close", after, n)
	}
}

func TestTTL(t *testing.T) {
	c := defaultConfig()
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", time.Hour},
		{"public, max-age=7200", 2 * time.Hour},
		{"MAX-AGE=300", 5 * time.Minute},
		{"max-age=0", time.Minute},                 // floored
		{"max-age=5", time.Minute},                 // floored
		{"max-age=abc", time.Hour},                 // ignored
		{"max-age=-3", time.Hour},                  // ignored
		{"no-cache", time.Hour},                    // only max-age is read
		{"max-age=99999999999999", 24 * time.Hour}, // capped
	} {
		if got := c.ttl(tc.header); got != tc.want {
			t.Errorf("ttl(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestNewValidatesSpec(t *testing.T) {
	good := core.JWTSpec{Issuer: testIssuer, Audiences: []string{testAudience}, JWKSURL: "https://idp.example.com/jwks"}
	a, err := New(good, nil, nil)
	if err != nil {
		t.Fatalf("New(good): %v", err)
	}
	_ = a.Close()

	for _, tc := range []struct {
		name   string
		change func(*core.JWTSpec)
		want   string
	}{
		{"no issuer", func(s *core.JWTSpec) { s.Issuer = "" }, "issuer"},
		{"issuer not a URL", func(s *core.JWTSpec) { s.Issuer = "idp.example.com" }, "issuer"},
		{"jwks_url ftp", func(s *core.JWTSpec) { s.JWKSURL = "ftp://idp.example.com/jwks" }, "jwks_url"},
		{"no audiences", func(s *core.JWTSpec) { s.Audiences = nil }, "audiences"},
		{"empty audience", func(s *core.JWTSpec) { s.Audiences = []string{""} }, "audiences"},
		{"relative scope prefix", func(s *core.JWTSpec) { s.Scopes = map[string][]string{"admin": {"a"}} }, "scopes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := good
			tc.change(&spec)
			_, err := New(spec, nil, nil)
			if err == nil {
				t.Fatal("New accepted a bad spec")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line naming %q", err, tc.want)
			}
		})
	}
}

func TestEncryptionKeysDoNotVerify(t *testing.T) {
	enc := publicJWK(t, rsaKey, "enc-1", jwa.RS256())
	if err := enc.Set(jwk.KeyUsageKey, "enc"); err != nil {
		t.Fatal(err)
	}
	p := newIDP(t, enc, publicJWK(t, ecKey, "ec-1", jwa.ES256()))
	a := newTestAuthorizer(t, testSpec(p), defaultConfig(), nil)
	_, err := a.Authorize(context.Background(), request("/", sign(t, jwa.RS256(), rsaKey, "enc-1", claims())))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token under a use=enc key: err = %v, want ErrUnknownKey", err)
	}
}
