package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		spec core.CORSSpec
		want string // substring of the error
	}{
		{"no origins", core.CORSSpec{}, "allow_origins is empty"},
		{"path", core.CORSSpec{AllowOrigins: []string{"https://a.example/"}}, `"https://a.example/": want "*"`},
		{"no scheme", core.CORSSpec{AllowOrigins: []string{"a.example"}}, `"a.example"`},
		{"host:port without scheme", core.CORSSpec{AllowOrigins: []string{"localhost:3000"}}, `"localhost:3000"`},
		{"query", core.CORSSpec{AllowOrigins: []string{"https://a.example?x=1"}}, `"https://a.example?x=1"`},
		{"user info", core.CORSSpec{AllowOrigins: []string{"https://u@a.example"}}, `"https://u@a.example"`},
		{"bad port", core.CORSSpec{AllowOrigins: []string{"https://a.example:99999"}}, `"https://a.example:99999"`},
		{"subdomain wildcard", core.CORSSpec{AllowOrigins: []string{"https://*.example.com"}}, `"https://*.example.com"`},
		{"null", core.CORSSpec{AllowOrigins: []string{"null"}}, `"null"`},
		{"star with credentials", core.CORSSpec{AllowOrigins: []string{"*"}, AllowCredentials: true}, "cannot go with allow_credentials"},
		{"unknown method", core.CORSSpec{AllowOrigins: []string{"*"}, AllowMethods: []string{"FETCH"}}, `allow_methods "FETCH": want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or "*"`},
		{"trace", core.CORSSpec{AllowOrigins: []string{"*"}, AllowMethods: []string{"TRACE"}}, `allow_methods "TRACE"`},
		{"bad header", core.CORSSpec{AllowOrigins: []string{"*"}, AllowHeaders: []string{"x y"}}, `allow_headers "x y"`},
		{"bad expose", core.CORSSpec{AllowOrigins: []string{"*"}, ExposeHeaders: []string{"a:b"}}, `expose_headers "a:b"`},
		{"max age too long", core.CORSSpec{AllowOrigins: []string{"*"}, MaxAge: core.Duration(25 * time.Hour)}, "max_age 25h0m0s"},
		{"max age negative", core.CORSSpec{AllowOrigins: []string{"*"}, MaxAge: core.Duration(-time.Second)}, "max_age -1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec)
			if err == nil {
				t.Fatalf("New: no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("New: error spans lines: %q", err)
			}
			if core.CodeOf(err) != core.CodeInvalid {
				t.Errorf("New: code %q, want %q", core.CodeOf(err), core.CodeInvalid)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	for _, spec := range []core.CORSSpec{
		{AllowOrigins: []string{"*"}},
		{AllowOrigins: []string{"https://*", "http://*"}, AllowCredentials: true},
		{AllowOrigins: []string{"http://localhost:3000", "https://[::1]:8443", "capacitor://localhost"}},
		{AllowOrigins: []string{"HTTPS://A.Example:443"}, AllowMethods: []string{"get", "*"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"*"}},
		{AllowOrigins: []string{"https://a.example"}, MaxAge: core.Duration(24 * time.Hour)},
	} {
		if _, err := New(spec); err != nil {
			t.Errorf("New(%+v): %v", spec, err)
		}
	}
}

// backend answers 200 "ok" and, to show they are dropped, CORS headers
// of its own.
var backend = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "https://backend.example")
	w.Header().Set("Access-Control-Max-Age", "1")
	w.Header().Set("X-Backend", r.Method)
	_, _ = w.Write([]byte("ok"))
})

func TestMiddleware(t *testing.T) {
	exact := core.CORSSpec{
		AllowOrigins:  []string{"https://app.example", "http://localhost:3000"},
		AllowMethods:  []string{"GET", "PUT", "DELETE"},
		AllowHeaders:  []string{"Authorization", "Content-Type"},
		ExposeHeaders: []string{"X-Request-Id"},
		MaxAge:        core.Duration(10 * time.Minute),
	}
	creds := exact
	creds.AllowCredentials = true
	wildcard := core.CORSSpec{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"Date"}}
	schemes := core.CORSSpec{AllowOrigins: []string{"https://*"}, AllowCredentials: true}

	const absent = "<absent>"
	type want struct {
		status  int
		backend bool              // reached the backend
		headers map[string]string // absent: must not be set
	}
	noCORS := map[string]string{
		"Access-Control-Allow-Origin": absent, "Access-Control-Allow-Methods": absent,
		"Access-Control-Allow-Headers": absent, "Access-Control-Allow-Credentials": absent,
		"Access-Control-Max-Age": absent, "Access-Control-Expose-Headers": absent, "Vary": "Origin",
	}
	cases := []struct {
		name   string
		spec   core.CORSSpec
		method string
		header map[string]string
		want   want
	}{
		{"preflight exact origin", exact, "OPTIONS",
			map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"},
			want{204, false, map[string]string{
				"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "GET,PUT,DELETE",
				"Access-Control-Allow-Headers": "Authorization,Content-Type", "Access-Control-Max-Age": "600",
				"Access-Control-Allow-Credentials": absent, "Access-Control-Expose-Headers": absent, "Vary": "Origin"}}},
		{"preflight origin case and port", exact, "OPTIONS",
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "DELETE"},
			want{204, false, map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000"}}},
		{"preflight safelisted method not listed", exact, "OPTIONS",
			map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
			want{204, false, map[string]string{"Access-Control-Allow-Origin": "https://app.example"}}},
		{"preflight disallowed origin", exact, "OPTIONS",
			map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
			want{204, false, noCORS}},
		{"preflight disallowed method", exact, "OPTIONS",
			map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH"},
			want{204, false, noCORS}},
		{"preflight other port", exact, "OPTIONS",
			map[string]string{"Origin": "http://localhost:3001", "Access-Control-Request-Method": "GET"},
			want{204, false, noCORS}},
		{"preflight credentials", creds, "OPTIONS",
			map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
			want{204, false, map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true"}}},
		{"preflight wildcard echoes method and headers", wildcard, "OPTIONS",
			map[string]string{"Origin": "https://any.example", "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "x-api-key, content-type"},
			want{204, false, map[string]string{
				"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "PATCH",
				"Access-Control-Allow-Headers": "x-api-key, content-type", "Access-Control-Max-Age": absent,
				"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}}},
		{"preflight scheme wildcard echoes origin", schemes, "OPTIONS",
			map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
			want{204, false, map[string]string{"Access-Control-Allow-Origin": "https://x.example", "Access-Control-Allow-Credentials": "true"}}},
		{"preflight scheme wildcard other scheme", schemes, "OPTIONS",
			map[string]string{"Origin": "http://x.example", "Access-Control-Request-Method": "GET"},
			want{204, false, noCORS}},
		{"non-preflight OPTIONS passes through", exact, "OPTIONS",
			map[string]string{"Origin": "https://app.example"},
			want{200, true, map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Expose-Headers": "X-Request-Id",
				"Access-Control-Max-Age": absent, "Vary": "Origin"}}},
		{"OPTIONS without origin passes through", exact, "OPTIONS",
			map[string]string{"Access-Control-Request-Method": "GET"},
			want{200, true, noCORS}},
		{"actual allowed", exact, "GET",
			map[string]string{"Origin": "https://app.example"},
			want{200, true, map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Expose-Headers": "X-Request-Id",
				"Access-Control-Allow-Methods": absent, "Access-Control-Allow-Credentials": absent, "Access-Control-Max-Age": absent, "Vary": "Origin"}}},
		{"actual uppercase origin", exact, "GET",
			map[string]string{"Origin": "HTTPS://APP.EXAMPLE"},
			want{200, true, map[string]string{"Access-Control-Allow-Origin": "HTTPS://APP.EXAMPLE"}}},
		{"actual credentials", creds, "POST",
			map[string]string{"Origin": "https://app.example"},
			want{200, true, map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true"}}},
		{"actual wildcard", wildcard, "DELETE",
			map[string]string{"Origin": "https://any.example"},
			want{200, true, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Date", "Vary": "Origin"}}},
		{"actual disallowed origin", exact, "GET",
			map[string]string{"Origin": "https://evil.example"},
			want{200, true, noCORS}},
		{"actual without origin", exact, "GET", nil, want{200, true, noCORS}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, "http://api.example/items", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			c.Middleware(backend).ServeHTTP(rec, req)
			if rec.Code != tc.want.status {
				t.Errorf("status %d, want %d", rec.Code, tc.want.status)
			}
			if reached := rec.Header().Get("X-Backend") != ""; reached != tc.want.backend {
				t.Errorf("reached backend: %v, want %v", reached, tc.want.backend)
			}
			for k, v := range tc.want.headers {
				got, ok := rec.Header()[k]
				switch {
				case v == absent && ok:
					t.Errorf("%s: %q, want none", k, got)
				case v != absent && (len(got) != 1 || got[0] != v):
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestMiddlewareVary(t *testing.T) {
	c, err := New(core.CORSSpec{AllowOrigins: []string{"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		backend http.HandlerFunc
		want    []string
	}{
		{"backend vary kept, Origin added", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Vary", "Accept-Encoding")
			w.WriteHeader(201)
		}, []string{"Accept-Encoding", "Origin"}},
		{"backend already varies on origin", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Vary", "accept-encoding, origin")
		}, []string{"accept-encoding, origin"}},
		{"backend varies on everything", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Vary", "*")
			_, _ = w.Write(nil)
		}, []string{"*"}},
		{"backend writes nothing", func(http.ResponseWriter, *http.Request) {}, []string{"Origin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Origin", "https://app.example")
			rec := httptest.NewRecorder()
			c.Middleware(tc.backend).ServeHTTP(rec, req)
			if got := rec.Header().Values("Vary"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Vary %q, want %q", got, tc.want)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example" {
				t.Errorf("Allow-Origin %q", got)
			}
		})
	}
}

// A streaming backend still flushes through the middleware, and the CORS
// headers are on the first flush.
func TestMiddlewareFlush(t *testing.T) {
	c, err := New(core.CORSSpec{AllowOrigins: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Origin", "https://a.example")
	c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://backend.example")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	})).ServeHTTP(rec, req)
	if !rec.Flushed {
		t.Error("not flushed")
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Allow-Origin %q, want *", got)
	}
}
