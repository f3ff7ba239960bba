package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/slipwayhq/slipway/internal/core"
)

var _ io.Closer = (*Authorizer)(nil)

// Defaults; see config.
const (
	// Leeway forgives clock skew between the IdP and us on exp, nbf and
	// iat: 30 s, a common choice and well under any token lifetime.
	Leeway = 30 * time.Second
	// RefetchInterval is the least time between two on-demand JWKS
	// fetches of one authorizer (tokens with unknown kids); tokens with
	// an unknown kid in between are refused.
	RefetchInterval = 10 * time.Second
	// DefaultTTL is how long a JWKS is fresh when its response has no
	// Cache-Control max-age.
	DefaultTTL = time.Hour
)

// maxTokenBytes bounds what we parse; real tokens are a few KB.
const maxTokenBytes = 16 << 10

// allowedAlgs are the signature algorithms we verify. "none" and the
// HMAC family are refused outright: a JWKS holds public keys, and
// accepting HS256 would let a public key serve as a shared secret.
var allowedAlgs = map[string]bool{
	jwa.RS256().String(): true,
	jwa.ES256().String(): true,
	jwa.EdDSA().String(): true,
}

// config holds the tunables; tests shorten them.
type config struct {
	leeway          time.Duration
	refetchInterval time.Duration
	defaultTTL      time.Duration
	minTTL, maxTTL  time.Duration
	failRetry       time.Duration // background retry after a failed fetch
	fetchTimeout    time.Duration
	now             func() time.Time
}

func defaultConfig() config {
	return config{
		leeway:          Leeway,
		refetchInterval: RefetchInterval,
		defaultTTL:      DefaultTTL,
		minTTL:          time.Minute,
		maxTTL:          24 * time.Hour,
		failRetry:       time.Minute,
		fetchTimeout:    10 * time.Second,
		now:             time.Now,
	}
}

// Authorizer checks requests' bearer tokens against one JWTSpec. It is
// safe for concurrent use; Close stops its JWKS refresher.
type Authorizer struct {
	spec   core.JWTSpec
	cfg    config
	logger *slog.Logger
	keys   *keySet
	once   sync.Once
}

// Result is what an authorized request carries on.
type Result struct {
	// Subject is the token's sub claim ("" when it has none).
	Subject string
	// Claims are the token's claims as decoded from JSON; numbers are
	// json.Number, so they re-encode exactly.
	Claims map[string]any
	// Scopes are the token's scopes, from scope and scp.
	Scopes []string
}

// New checks spec and returns its authorizer. The JWKS is not fetched
// until the first token needs it. client fetches the JWKS (nil: a
// client with a 10 s timeout); logger may be nil.
func New(spec core.JWTSpec, client *http.Client, logger *slog.Logger) (*Authorizer, error) {
	return newAuthorizer(spec, client, logger, defaultConfig())
}

func newAuthorizer(spec core.JWTSpec, client *http.Client, logger *slog.Logger, cfg config) (*Authorizer, error) {
	if err := validate(spec); err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: cfg.fetchTimeout}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "jwtauth", "issuer", spec.Issuer)
	return &Authorizer{
		spec: spec, cfg: cfg, logger: logger,
		keys: newKeySet(spec.JWKSURL, client, logger, cfg),
	}, nil
}

// validate checks a spec as API Gateway's CreateAuthorizer would.
func validate(spec core.JWTSpec) error {
	if err := checkURL("issuer", spec.Issuer); err != nil {
		return err
	}
	if err := checkURL("jwks_url", spec.JWKSURL); err != nil {
		return err
	}
	if len(spec.Audiences) == 0 {
		return errors.New("jwt: audiences: at least one is required")
	}
	for _, a := range spec.Audiences {
		if a == "" {
			return errors.New("jwt: audiences: empty audience")
		}
	}
	for prefix := range spec.Scopes {
		if !strings.HasPrefix(prefix, "/") {
			return fmt.Errorf("jwt: scopes: path prefix %q must start with /", prefix)
		}
	}
	return nil
}

// checkURL accepts absolute http(s) URLs; plain http is allowed for a
// local IdP in development.
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("jwt: %s %q is not an http(s) URL", field, s)
	}
	return nil
}

// Close stops the background JWKS refresher. Authorize still works
// after it, but no longer refreshes keys in the background.
func (a *Authorizer) Close() error {
	a.once.Do(a.keys.close)
	return nil
}

// Authorize checks r's bearer token. A refusal matches ErrUnauthorized
// or ErrForbidden (see errors.go for the reasons).
func (a *Authorizer) Authorize(ctx context.Context, r *http.Request) (Result, error) {
	raw, err := bearerToken(r.Header)
	if err != nil {
		return Result{}, err
	}
	claims, err := a.verify(ctx, raw)
	if err != nil {
		return Result{}, err
	}
	if err := checkClaims(claims, a.spec, a.cfg.now(), a.cfg.leeway); err != nil {
		return Result{}, err
	}
	granted := grantedScopes(claims)
	required, prefix := requiredScopes(a.spec.Scopes, r.URL.Path)
	if err := checkScopes(required, granted, prefix); err != nil {
		return Result{}, err
	}
	sub, _ := claims["sub"].(string)
	return Result{Subject: sub, Claims: claims, Scopes: granted}, nil
}

// bearerToken reads the Authorization header. As API Gateway, it takes
// "Bearer <jwt>" (the scheme in any case) or the bare token.
func bearerToken(h http.Header) (string, error) {
	v := strings.TrimSpace(h.Get("Authorization"))
	if scheme, rest, _ := strings.Cut(v, " "); strings.EqualFold(scheme, "bearer") {
		v = strings.TrimSpace(rest)
	}
	if v == "" {
		return "", ErrMissingToken
	}
	return v, nil
}

// verify checks the token's form, algorithm and signature, and returns
// its claims.
func (a *Authorizer) verify(ctx context.Context, raw string) (map[string]any, error) {
	// Compact serialization only: the JSON one could carry several
	// signatures and unprotected headers, which no IdP sends.
	if len(raw) > maxTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(sigs))
	}
	hdr := sigs[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok || !allowedAlgs[alg.String()] {
		return nil, fmt.Errorf("%w: algorithm %q not allowed", ErrInvalidToken, alg.String())
	}
	// As API Gateway, a token must name its key.
	kid, _ := hdr.KeyID()
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrInvalidToken)
	}
	key, err := a.keys.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
		return nil, fmt.Errorf("%w: key %q is for %s, token says %s", ErrBadSignature, kid, ka, alg)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKey(alg, key), jws.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return decodeClaims(payload)
}
