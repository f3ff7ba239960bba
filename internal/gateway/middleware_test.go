package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRouteMiddleware: a route's middleware sees requests before a
// backend is acquired, may answer them itself, wraps the writer the
// backend's answer goes through, and names the API key in the access
// log.
func TestRouteMiddleware(t *testing.T) {
	backend := echoBackend(t, "a")
	infos := make(chan RequestInfo, 10)
	built := 0
	r := route(testHost, backend)
	r.Middleware = func(next http.Handler) http.Handler {
		built++
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get("X-Key") != "good" {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"message":"Forbidden"}`))
				return
			}
			SetAPIKey(w, "mobile")
			w.Header().Set("X-Checked", "yes")
			next.ServeHTTP(&tagging{ResponseWriter: w}, req)
		})
	}
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infos <- ri }}, r)
	c := newClient(t)
	resp, body := get(t, c, front.URL+"/x", testHost, nil)
	if resp.StatusCode != 403 || string(body) != `{"message":"Forbidden"}` {
		t.Fatalf("refused: %d %s", resp.StatusCode, body)
	}
	if ri := <-infos; ri.Status != 403 || ri.Attempts != 0 || ri.APIKey != "" {
		t.Errorf("refusal logged as %+v", ri)
	}
	resp, body = get(t, c, front.URL+"/x", testHost, http.Header{"X-Key": {"good"}})
	if resp.StatusCode != 200 || resp.Header.Get("X-Checked") != "yes" || resp.Header.Get("X-Tagged") != "yes" || decodeSeen(t, body).Path != "/x" {
		t.Fatalf("admitted: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if ri := <-infos; ri.Status != 200 || ri.APIKey != "mobile" || ri.BackendID != "inst-a" || ri.BytesOut != int64(len(body)) {
		t.Errorf("admitted logged as %+v", ri)
	}
	if built != 1 {
		t.Errorf("middleware built %d times for one table, want 1", built)
	}
}

// tagging marks the response as it passes, as CORS decorates one.
type tagging struct{ http.ResponseWriter }

func (w *tagging) WriteHeader(code int) {
	w.Header().Set("X-Tagged", "yes")
	w.ResponseWriter.WriteHeader(code)
}
func (w *tagging) Write(p []byte) (int, error) {
	if w.Header().Get("X-Tagged") == "" {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}
func (w *tagging) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestRouteTimeout(t *testing.T) {
	sleeper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(sleeper.Close)
	r := Route{Host: "dev.slow.localhost", Stack: "slow", Stage: "dev", Backends: []Backend{{ID: "s", Addr: addrOf(sleeper)}}, Timeout: 300 * time.Millisecond}
	_, front := newTestGateway(t, Config{}, r)
	start := time.Now()
	resp, body := get(t, newClient(t), front.URL+"/", "dev.slow.localhost", nil)
	if code, _ := errorResponse(t, resp, body, http.StatusGatewayTimeout); code != CodeGatewayTimeout {
		t.Fatalf("past the route timeout: %d %s", resp.StatusCode, body)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("answered after %s with a 300ms timeout", el)
	}
}

func TestPathRoutes(t *testing.T) {
	web, api, admin := echoBackend(t, "web"), echoBackend(t, "api"), echoBackend(t, "admin")
	front := route(testHost, web)
	front.Paths = []PathRoute{{Prefix: "/api", Host: "prod.api.localhost", Strip: true}, {Prefix: "/api/admin", Host: "prod.admin.localhost"}}
	apiRoute := Route{Host: "prod.api.localhost", Stack: "api", Stage: "prod", Backends: []Backend{{ID: "api", Addr: addrOf(api)}}}
	adminRoute := Route{Host: "prod.admin.localhost", Stack: "admin", Stage: "prod", Backends: []Backend{{ID: "admin", Addr: addrOf(admin)}}}
	_, srv := newTestGateway(t, Config{}, front, apiRoute, adminRoute)
	c := newClient(t)
	for _, tc := range []struct{ path, id, seenPath string }{
		{"/", "web", "/"},
		{"/apix", "web", "/apix"}, // whole segments only
		{"/api", "api", "/"},
		{"/api/users/7", "api", "/users/7"},
		{"/api/admin/x", "admin", "/api/admin/x"}, // longest prefix, not stripped
	} {
		_, body := get(t, c, srv.URL+tc.path, testHost, nil)
		s := decodeSeen(t, body)
		if s.ID != tc.id || s.Path != tc.seenPath {
			t.Errorf("%s went to %s as %s, want %s as %s", tc.path, s.ID, s.Path, tc.id, tc.seenPath)
		}
	}
}

// TestKeysNeverReachBackends: x-api-key is dropped on every route, and a
// body cut off by a route's limit is a 413, not a backend failure.
func TestKeysNeverReachBackendsAndBodyLimits(t *testing.T) {
	backend := echoBackend(t, "a")
	r := route(testHost, backend)
	r.Middleware = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			req.Body = http.MaxBytesReader(w, req.Body, 100)
			next.ServeHTTP(w, req)
		})
	}
	_, front := newTestGateway(t, Config{}, r)
	c := newClient(t)
	_, body := get(t, c, front.URL+"/", testHost, http.Header{"X-Api-Key": {"slk_secret"}})
	if s := decodeSeen(t, body); s.Header.Get("X-Api-Key") != "" {
		t.Fatalf("the backend saw the key: %v", s.Header)
	}
	// A chunked body (no Content-Length) over the limit.
	req, _ := http.NewRequest("POST", front.URL+"/", io.NopCloser(strings.NewReader(strings.Repeat("x", 1000))))
	req.Host = testHost
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := errorResponse(t, resp, b, http.StatusRequestEntityTooLarge); code != CodePayloadTooLarge {
		t.Fatalf("chunked body over the limit: %d %s", resp.StatusCode, b)
	}
}
