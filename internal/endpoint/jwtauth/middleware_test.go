package jwtauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func TestMiddleware(t *testing.T) {
	p := standardIDP(t)
	spec := testSpec(p)
	spec.Scopes = map[string][]string{"/admin": {"admin"}}
	a := newTestAuthorizer(t, spec, defaultConfig(), nil)

	var reached int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		res, ok := FromContext(r.Context())
		if !ok {
			t.Error("no Result in the request context")
		}
		_, _ = io.WriteString(w, "hello "+res.Subject)
	})
	srv := httptest.NewServer(a.Middleware(next))
	defer srv.Close()

	good := sign(t, jwa.EdDSA(), edKey, "ed-1", claims("sub", "bob"))
	for _, tc := range []struct {
		name   string
		path   string
		auth   string
		status int
		body   string
	}{
		{"no header", "/x", "", http.StatusUnauthorized, `{"message":"Unauthorized"}`},
		{"garbage", "/x", "Bearer x.y.z", http.StatusUnauthorized, `{"message":"Unauthorized"}`},
		{"bad signature", "/x", "Bearer " + sign(t, jwa.RS256(), rsaImpostor, "rsa-1", claims()), http.StatusUnauthorized, `{"message":"Unauthorized"}`},
		{"no scope", "/admin/x", "Bearer " + good, http.StatusForbidden, `{"message":"Forbidden"}`},
		{"allowed", "/x", "Bearer " + good, http.StatusOK, "hello bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || string(body) != tc.body {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.status != http.StatusOK {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content-type = %q", ct)
				}
			}
		})
	}
	if reached != 1 {
		t.Errorf("next reached %d times, want 1", reached)
	}
}
