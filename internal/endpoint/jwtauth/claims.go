package jwtauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// decodeClaims reads a verified payload. Numbers stay json.Number so
// that claims pass on to the backend exactly as the issuer wrote them.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if claims == nil || dec.More() {
		return nil, fmt.Errorf("%w: claims are not one JSON object", ErrInvalidToken)
	}
	return claims, nil
}

// checkClaims applies API Gateway's claim checks, in its order: iss,
// then aud (or client_id when aud is absent), then exp, nbf and iat,
// each of the time checks forgiving leeway of clock skew.
func checkClaims(claims map[string]any, spec core.JWTSpec, now time.Time, leeway time.Duration) error {
	if iss, _ := claims["iss"].(string); iss != spec.Issuer {
		return fmt.Errorf("%w: %q", ErrWrongIssuer, iss)
	}
	if err := checkAudience(claims, spec.Audiences); err != nil {
		return err
	}
	// exp is required: a token that never expires is not one we accept.
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: no exp", ErrInvalidToken)
	case !now.Before(exp.Add(leeway)):
		return fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	for _, name := range []string{"nbf", "iat"} {
		t, ok, err := numericDate(claims, name)
		if err != nil {
			return err
		}
		if ok && now.Add(leeway).Before(t) {
			return fmt.Errorf("%w: %s %s", ErrNotYetValid, name, t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// checkAudience: aud must name one of audiences; only when a token has
// no aud is client_id (Cognito's access tokens) checked instead.
func checkAudience(claims map[string]any, audiences []string) error {
	name := "aud"
	v, ok := claims["aud"]
	if !ok || v == nil {
		name, v = "client_id", claims["client_id"]
	}
	if v == nil {
		return fmt.Errorf("%w: no aud or client_id", ErrWrongAudience)
	}
	got, ok := stringList(v)
	if !ok {
		return fmt.Errorf("%w: %s is not a string or list of strings", ErrWrongAudience, name)
	}
	for _, g := range got {
		if slices.Contains(audiences, g) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %q", ErrWrongAudience, name, got)
}

// numericDate reads a NumericDate claim; ok is false when it is absent.
func numericDate(claims map[string]any, name string) (t time.Time, ok bool, err error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a number", ErrInvalidToken, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<40 {
		return time.Time{}, false, fmt.Errorf("%w: %s %s out of range", ErrInvalidToken, name, n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// grantedScopes are the token's scopes, from "scope" (OAuth 2.0's
// space-separated string) and "scp" (a list, as Okta and Entra write
// it); either may take either form.
func grantedScopes(claims map[string]any) []string {
	var out []string
	for _, name := range []string{"scope", "scp"} {
		switch v := claims[name].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// requiredScopes returns the scopes of the longest prefix in byPrefix
// that matches urlPath, and that prefix. Prefixes match whole path
// segments ("/admin" matches "/admin" and "/admin/x", not "/administer")
// and the path is cleaned first, so "/public/../admin" cannot slip past
// the scopes of "/admin".
func requiredScopes(byPrefix map[string][]string, urlPath string) (scopes []string, prefix string) {
	p := path.Clean("/" + urlPath)
	best := -1
	for pre, s := range byPrefix {
		trimmed := strings.TrimSuffix(pre, "/")
		if !hasPathPrefix(p, trimmed) {
			continue
		}
		// Longest wins; "/a" against "/a/" is settled by name, so that
		// map order never decides.
		if n := len(trimmed); n > best || (n == best && pre < prefix) {
			scopes, prefix, best = s, pre, n
		}
	}
	return scopes, prefix
}

// hasPathPrefix reports whether p starts with the segments of prefix
// (given without a trailing slash; "" is the root and matches all).
func hasPathPrefix(p, prefix string) bool {
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// checkScopes: as API Gateway, a token needs at least one of the
// route's scopes; a route that lists none needs none.
func checkScopes(required, granted []string, prefix string) error {
	if len(required) == 0 {
		return nil
	}
	for _, g := range granted {
		if slices.Contains(required, g) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s needs one of %q", ErrInsufficientScope, prefix, required)
}

// stringList reads a claim that is a string or a list of strings.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			s, ok := s.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
