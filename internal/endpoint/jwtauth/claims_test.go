package jwtauth

import (
	"context"
	"errors"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

var testScopes = map[string][]string{
	"/":             nil,
	"/admin":        {"admin"},
	"/admin/public": {},
	"/orders/":      {"orders:read", "orders:write"},
}

func TestRequiredScopes(t *testing.T) {
	for _, tc := range []struct {
		path, prefix string
	}{
		{"/", "/"},
		{"/things", "/"},
		{"/admin", "/admin"},
		{"/admin/users", "/admin"},
		{"/administer", "/"}, // whole segments only
		{"/admin/public", "/admin/public"},
		{"/admin/public/x", "/admin/public"},
		{"/orders", "/orders/"},
		{"/orders/42", "/orders/"},
		{"/public/../admin/x", "/admin"}, // cleaned first
		{"//admin", "/admin"},
		{"admin", "/admin"},
	} {
		if _, got := requiredScopes(testScopes, tc.path); got != tc.prefix {
			t.Errorf("requiredScopes(%q) prefix = %q, want %q", tc.path, got, tc.prefix)
		}
	}
	if s, p := requiredScopes(map[string][]string{"/admin": {"a"}}, "/other"); s != nil || p != "" {
		t.Errorf("no match: got %q, %q", s, p)
	}
}

func TestAuthorizeScopes(t *testing.T) {
	p := standardIDP(t)
	spec := testSpec(p)
	spec.Scopes = testScopes
	a := newTestAuthorizer(t, spec, defaultConfig(), nil)

	for _, tc := range []struct {
		name   string
		path   string
		scopes []any // claim kv pairs
		allow  bool
	}{
		{"root needs none", "/things", nil, true},
		{"admin without scope", "/admin/users", []any{"scope", "read write"}, false},
		{"admin without any claim", "/admin", nil, false},
		{"admin with scope", "/admin/users", []any{"scope", "read admin"}, true},
		{"admin with scp list", "/admin/users", []any{"scp", []string{"admin"}}, true},
		{"admin with scp string", "/admin/users", []any{"scp", "x admin"}, true},
		{"admin scope is not a prefix match", "/admin", []any{"scope", "admin:read"}, false},
		{"public under admin needs none", "/admin/public/doc", nil, true},
		{"administer is not admin", "/administer", nil, true},
		{"dot-dot into admin", "/public/../admin/users", []any{"scope", "read"}, false},
		{"orders, one of two", "/orders/7", []any{"scope", "orders:write"}, true},
		{"orders, neither", "/orders/7", []any{"scope", "admin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, jwa.ES256(), ecKey, "ec-1", claims(tc.scopes...))
			r := request("/", tok)
			r.URL.Path = tc.path // as the server decodes it, unclean
			_, err := a.Authorize(context.Background(), r)
			switch {
			case tc.allow && err != nil:
				t.Fatalf("Authorize: %v, want allowed", err)
			case !tc.allow && !errors.Is(err, ErrInsufficientScope):
				t.Fatalf("Authorize error = %v, want ErrInsufficientScope", err)
			case !tc.allow && (!errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthorized)):
				t.Fatalf("error %v is not of class ErrForbidden only", err)
			}
		})
	}
}
