package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

func newTestAPI() *API {
	return New(nil, "s3cret", Info{Version: "test"}, slog.New(slog.DiscardHandler))
}

// TestOpenAPIMatchesRoutes checks the document served at
// /v1/openapi.json lists exactly the routes the mux serves: every
// documented operation is routed to that very pattern, and every routed
// pattern is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := newTestAPI()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			concrete := strings.NewReplacer("{stack}", "hello", "{build}", "b1", "{stage}", "dev").Replace(path)
			req := httptest.NewRequest(strings.ToUpper(method), concrete, nil)
			if _, pattern := a.mux.Handler(req); pattern != strings.ToUpper(method)+" "+path {
				t.Errorf("documented %s %s is routed to %q", method, path, pattern)
			}
		}
	}
	var routed []string
	for _, rt := range a.routes {
		routed = append(routed, rt.method+" "+rt.pattern)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("documented:\n%s\nrouted:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
}

func TestAuthAndUnknownRoutes(t *testing.T) {
	a := newTestAPI()
	for _, rt := range a.routes {
		if rt.public {
			continue
		}
		path := strings.NewReplacer("{stack}", "hello", "{build}", "b1", "{stage}", "dev").Replace(rt.pattern)
		for _, auth := range []string{"", "Bearer wrong", "Basic s3cret", "s3cret"} {
			req := httptest.NewRequest(rt.method, path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"unauthorized"`) {
				t.Errorf("%s %s with %q: %d %s", rt.method, path, auth, rec.Code, rec.Body)
			}
		}
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/nope", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Errorf("unknown path: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("PUT", "/v1/stacks", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, POST" || !strings.Contains(rec.Body.String(), "method_not_allowed") {
		t.Errorf("wrong method: %d %q %s", rec.Code, rec.Header().Get("Allow"), rec.Body)
	}
}
