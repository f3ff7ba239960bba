package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// do sends one request to h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %q)", ct, rec.Body)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body, err)
	}
	return v
}

func TestTextEndpoints(t *testing.T) {
	t.Setenv("TEST_ENV_VAR", "hello from test")
	h := newHandler(newStore())
	for _, tc := range []struct{ path, want string }{
		{"/", "hello world!"},
		{"/ping", "pong"},
		{"/healthy", "healthy"},
		{"/env-var", "hello from test"},
	} {
		rec := do(t, h, "GET", tc.path, "")
		if rec.Code != http.StatusOK || rec.Body.String() != tc.want {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.path, rec.Code, rec.Body, tc.want)
		}
	}
}

func TestEnvVarUnset(t *testing.T) {
	t.Setenv("TEST_ENV_VAR", "")
	rec := do(t, newHandler(newStore()), "GET", "/env-var", "")
	if rec.Code != http.StatusOK || rec.Body.String() != "" {
		t.Errorf("GET /env-var = %d %q, want 200 and an empty body", rec.Code, rec.Body)
	}
}

func TestItemLifecycle(t *testing.T) {
	h := newHandler(newStore())

	if got := decode[[]item](t, do(t, h, "GET", "/local-item", "")); got == nil || len(got) != 0 {
		t.Fatalf("empty list = %#v, want []", got)
	}
	if body := do(t, h, "GET", "/local-item", "").Body.String(); strings.TrimSpace(body) != "[]" {
		t.Errorf("empty list body = %q, want []", body)
	}

	rec := do(t, h, "POST", "/local-item", `{"title":"first","content":"one"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s, want 201", rec.Code, rec.Body)
	}
	first := decode[item](t, rec)
	if first.ID == "" || first.Title != "first" || first.Content != "one" {
		t.Fatalf("created %#v", first)
	}
	if loc := rec.Header().Get("Location"); loc != "/local-item/"+first.ID {
		t.Errorf("Location = %q", loc)
	}
	second := decode[item](t, do(t, h, "POST", "/local-item", `{"title":"second"}`))
	if second.ID == first.ID {
		t.Fatalf("ids not unique: %q", first.ID)
	}

	// The list keeps creation order, whatever the ids sort as.
	list := decode[[]item](t, do(t, h, "GET", "/local-item", ""))
	if len(list) != 2 || list[0] != first || list[1] != second {
		t.Fatalf("list = %#v", list)
	}

	if got := decode[item](t, do(t, h, "GET", "/local-item/"+first.ID, "")); got != first {
		t.Errorf("GET by id = %#v, want %#v", got, first)
	}

	rec = do(t, h, "PUT", "/local-item/"+first.ID, `{"id":"ignored","title":"renamed","content":"two"}`)
	want := item{ID: first.ID, Title: "renamed", Content: "two"}
	if rec.Code != http.StatusOK || decode[item](t, rec) != want {
		t.Fatalf("PUT = %d %s, want 200 %#v", rec.Code, rec.Body, want)
	}
	if got := decode[item](t, do(t, h, "GET", "/local-item/"+first.ID, "")); got != want {
		t.Errorf("after PUT, GET = %#v", got)
	}

	rec = do(t, h, "DELETE", "/local-item/"+first.ID, "")
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("DELETE = %d %q, want 204 and no body", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/local-item/"+first.ID, ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d, want 404", rec.Code)
	}
	if list := decode[[]item](t, do(t, h, "GET", "/local-item", "")); len(list) != 1 || list[0] != second {
		t.Errorf("list after DELETE = %#v", list)
	}
}

func TestErrors(t *testing.T) {
	h := newHandler(newStore())
	id := decode[item](t, do(t, h, "POST", "/local-item", `{"title":"x"}`)).ID
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		allow                    string
	}{
		{"bad json", "POST", "/local-item", `{"title":`, 400, ""},
		{"not an object", "POST", "/local-item", `["x"]`, 400, ""},
		{"trailing data", "POST", "/local-item", `{"title":"a"} {"title":"b"}`, 400, ""},
		{"empty body", "POST", "/local-item", ``, 400, ""},
		{"missing title", "POST", "/local-item", `{"content":"c"}`, 400, ""},
		{"blank title", "POST", "/local-item", `{"title":"  "}`, 400, ""},
		{"too large", "POST", "/local-item", `{"title":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, ""},
		{"put bad json", "PUT", "/local-item/" + id, `nope`, 400, ""},
		{"put missing title", "PUT", "/local-item/" + id, `{}`, 400, ""},
		{"get unknown", "GET", "/local-item/nope", "", 404, ""},
		{"put unknown", "PUT", "/local-item/nope", `{"title":"t"}`, 404, ""},
		{"delete unknown", "DELETE", "/local-item/nope", "", 404, ""},
		{"unknown path", "GET", "/nope", "", 404, ""},
		{"wrong method on collection", "DELETE", "/local-item", "", 405, "GET, HEAD, POST"},
		{"wrong method on item", "POST", "/local-item/" + id, "", 405, "DELETE, GET, HEAD, PUT"},
		{"wrong method on ping", "POST", "/ping", "", 405, "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.status)
			}
			if msg := decode[map[string]string](t, rec)["error"]; msg == "" {
				t.Errorf("no error message in %s", rec.Body)
			}
			if got := rec.Header().Get("Allow"); !sameMethods(got, tc.allow) {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

// sameMethods compares Allow headers ignoring order, which the mux does
// not promise.
func sameMethods(a, b string) bool {
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				m[f] = true
			}
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}

// TestConcurrentCreates is meant for -race: the store must be safe for
// the server's concurrent handlers.
func TestConcurrentCreates(t *testing.T) {
	h := newHandler(newStore())
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rec := do(t, h, "POST", "/local-item", `{"title":"t"}`)
			if rec.Code != http.StatusCreated {
				t.Errorf("POST = %d", rec.Code)
				return
			}
			id := decode[item](t, rec).ID
			do(t, h, "GET", "/local-item", "")
			do(t, h, "PUT", "/local-item/"+id, `{"title":"u"}`)
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, it := range decode[[]item](t, do(t, h, "GET", "/local-item", "")) {
		ids[it.ID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct items, want %d", len(ids), n)
	}
}

func TestNewIDIsUUIDv4(t *testing.T) {
	id := newID()
	if len(id) != 36 || id[14] != '4' || !strings.ContainsAny(id[19:20], "89ab") {
		t.Errorf("newID() = %q, not a version 4 UUID", id)
	}
}

// TestRunShutsDownGracefully checks that a request in flight when the
// shutdown starts still completes, and that run then returns nil.
func TestRunShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", newHandler(newStore()))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		w.Write([]byte("done"))
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, mux, logger) }()
	url := "http://" + ln.Addr().String()

	if body := get(t, url+"/ping"); body != "pong" {
		t.Fatalf("/ping = %q", body)
	}

	slow := make(chan string, 1)
	go func() { slow <- get(t, url+"/slow") }()
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("run returned %v while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-slow; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want nil after shutdown", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("run did not return after the shutdown")
	}
	if _, err := http.Get(url + "/ping"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if !strings.Contains(logs.String(), `"path":"/ping","status":200`) {
		t.Errorf("no request log line for /ping in:\n%s", logs.String())
	}
}

// get returns the body of a GET that must succeed with 200. It may run on
// another goroutine, so it reports with Errorf rather than Fatalf.
func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %d %q, %v", url, resp.StatusCode, body, err)
	}
	return string(body)
}

// syncBuffer is a log sink safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
