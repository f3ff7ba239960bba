package endpoint

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
)

func newManager(t *testing.T, now func() time.Time) (*Manager, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return NewManager(Config{Store: st, Now: now, Context: ctx}), st
}

func addKey(t *testing.T, st *sqlite.Store, id, stack, stage, name, plan, value string) {
	t.Helper()
	if err := st.PutAPIKey(context.Background(), core.APIKey{ID: id, Stack: stack, Stage: stage, Name: name, Plan: plan,
		Hash: core.HashAPIKey(value), Prefix: value[:6], CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	status int
	body   string
	header http.Header
}

func call(h http.Handler, method, path, key string, body string, hdr map[string]string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://dev.s.localhost"+path, rd)
	if key != "" {
		r.Header.Set(HeaderAPIKey, key)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{w.Code, strings.TrimSpace(w.Body.String()), w.Header()}
}

func TestGatewayStage(t *testing.T) {
	clock := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	m, st := newManager(t, now)
	spec := core.DefaultEndpoint().Gateway
	spec.APIKeys = "required"
	spec.MaxBody = 100
	spec.UsagePlans = map[string]core.UsagePlan{
		"basic": {Throttle: core.Throttle{Rate: 1, Burst: 2}, Quota: &core.Quota{Limit: 3, Period: core.QuotaDay}},
	}
	spec.CORS = &core.CORSSpec{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "POST"}}
	addKey(t, st, "k1", "s", "dev", "mobile", "basic", "slk_mobile_key")
	addKey(t, st, "k2", "s", "dev", "batch", "", "slk_batch_key")
	addKey(t, st, "k3", "s", "prod", "elsewhere", "", "slk_prod_key")
	if err := m.ReloadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	var seenKey string
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenKey = r.Header.Get(HeaderAPIKey)
		w.Write([]byte("backend"))
	})
	h := m.Stage("s", "dev", spec).Wrap(backend)

	if a := call(h, "GET", "/", "", "", nil); a.status != 403 || a.body != `{"message":"Forbidden"}` {
		t.Fatalf("no key: %+v", a)
	}
	if a := call(h, "GET", "/", "slk_wrong", "", nil); a.status != 403 {
		t.Fatalf("unknown key: %+v", a)
	}
	if a := call(h, "GET", "/", "slk_prod_key", "", nil); a.status != 403 {
		t.Fatalf("another stage's key: %+v", a)
	}
	if a := call(h, "GET", "/", "slk_batch_key", "", nil); a.status != 200 || a.body != "backend" || seenKey != "" {
		t.Fatalf("a key without a plan: %+v (the backend saw key %q)", a, seenKey)
	}
	if a := call(h, "POST", "/", "slk_batch_key", strings.Repeat("x", 101), nil); a.status != 413 || !strings.Contains(a.body, "Request Entity Too Large") {
		t.Fatalf("101-byte body over max_body 100: %+v", a)
	}
	// The plan: burst 2 at 1/s, 3 a day.
	codes := []int{}
	for range 3 {
		codes = append(codes, call(h, "GET", "/", "slk_mobile_key", "", nil).status)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("burst of 3 on a burst-2 plan: %v", codes)
	}
	a := call(h, "GET", "/", "slk_mobile_key", "", nil)
	if a.status != 429 || a.body != `{"message":"Too Many Requests"}` || a.header.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %+v", a)
	}
	clockMu.Lock()
	clock = clock.Add(2 * time.Second)
	clockMu.Unlock()
	if a := call(h, "GET", "/", "slk_mobile_key", "", nil); a.status != 200 {
		t.Fatalf("after the bucket refilled: %+v", a)
	}
	clockMu.Lock()
	clock = clock.Add(2 * time.Second)
	clockMu.Unlock()
	if a := call(h, "GET", "/", "slk_mobile_key", "", nil); a.status != 429 || a.body != `{"message":"Limit Exceeded"}` {
		t.Fatalf("the 4th request of a 3-a-day quota: %+v", a)
	}
	// CORS: a preflight is answered without a key; answers carry the
	// origin.
	pre := call(h, "OPTIONS", "/", "", "", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %+v", pre)
	}
	if a := call(h, "GET", "/", "slk_batch_key", "", map[string]string{"Origin": "https://app.example.com"}); a.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("actual request lacks CORS headers: %+v", a)
	}

	// The same spec keeps the same stage (and its buckets); a new one
	// rebuilds it.
	if m.Stage("s", "dev", spec) != m.Stage("s", "dev", spec) {
		t.Error("an unchanged spec rebuilt the stage")
	}
	spec.APIKeys = "optional"
	if a := call(m.Stage("s", "dev", spec).Wrap(backend), "GET", "/", "", "", nil); a.status != 200 {
		t.Fatalf("optional keys, none sent: %+v", a)
	}
	// A JWT authorizer without a token: 401.
	spec.JWT = &core.JWTSpec{Issuer: "https://issuer.example.com", Audiences: []string{"api"}, JWKSURL: "https://issuer.example.com/jwks"}
	if a := call(m.Stage("s", "dev", spec).Wrap(backend), "GET", "/", "", "", nil); a.status != 401 || a.body != `{"message":"Unauthorized"}` {
		t.Fatalf("jwt without a token: %+v", a)
	}
}
