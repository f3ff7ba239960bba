package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestGatewayForwardingHeaders(t *testing.T) {
	backend := echoBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))

	h := http.Header{}
	h.Add("X-Forwarded-For", "203.0.113.7")
	h.Add("X-Forwarded-For", "198.51.100.1, 198.51.100.2")
	h.Set("X-Forwarded-Host", "evil.example")
	h.Set("X-Forwarded-Proto", "https")
	h.Set("Forwarded", "for=192.0.2.60")
	resp, body := get(t, newClient(t), front.URL+"/p/a%2Fb?q=1&r=2", "Dev.Hello.Localhost:8080", h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)

	if s.Host != "Dev.Hello.Localhost:8080" {
		t.Errorf("backend Host = %q, want the client's Host unchanged", s.Host)
	}
	// No trusted proxies: the client's own X-Forwarded-For is dropped
	// (see TestGatewayTrustedProxies).
	if got, want := s.Header.Get("X-Forwarded-For"), "127.0.0.1"; got != want {
		t.Errorf("X-Forwarded-For = %q, want %q", got, want)
	}
	if got := s.Header.Get("X-Forwarded-Host"); got != "Dev.Hello.Localhost:8080" {
		t.Errorf("X-Forwarded-Host = %q, want the original Host", got)
	}
	if got := s.Header.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
		t.Errorf("X-Forwarded-Proto = %q, want [http]", got)
	}
	if got := s.Header.Get("Forwarded"); got != "" {
		t.Errorf("client's Forwarded header reached the backend: %q", got)
	}
	if s.Path != "/p/a/b" || s.RawQuery != "q=1&r=2" {
		t.Errorf("path/query = %q ? %q", s.Path, s.RawQuery)
	}
	id := s.Header.Get("X-Request-Id")
	if !generatedID.MatchString(id) {
		t.Errorf("X-Request-Id to backend = %q, want 32 hex chars", id)
	}
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != id {
		t.Errorf("response X-Request-Id = %q, want [%s]", got, id)
	}
	if got := s.Header.Get("Accept-Encoding"); got != "" {
		t.Errorf("gateway added Accept-Encoding %q (transparent gzip must be off)", got)
	}
}

// A header whose name, with "-" for "_", is one the gateway sets, reads
// or drops never reaches the app (CGI-style servers would take it for
// that header); other names with underscores do.
func TestGatewayDropsUnderscoreAliases(t *testing.T) {
	backend := echoBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))

	h := http.Header{}
	aliases := []string{"X_Forwarded_For", "x_forwarded_host", "X_FORWARDED_PROTO", "X_Request_Id", "X_Api_Key",
		"Proxy_Authorization", "Keep_Alive", "Transfer_Encoding", "Content_Length", "Idempotency_Key", "X_Real_IP"}
	for _, k := range aliases {
		h[k] = []string{"forged"}
	}
	h["X_Custom_Header"] = []string{"kept"}
	h["X-Forwarded_Other"] = []string{"kept too"}
	resp, body := get(t, newClient(t), front.URL+"/", testHost, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	for k, v := range s.Header {
		for _, a := range aliases {
			if strings.EqualFold(k, a) {
				t.Errorf("%s: %q reached the backend", k, v)
			}
		}
	}
	if got := s.Header.Get("X_custom_header"); got != "kept" {
		t.Errorf("X_Custom_Header = %q, want it forwarded; backend saw %v", got, s.Header)
	}
	if got := s.Header.Get("X-Forwarded_other"); got != "kept too" {
		t.Errorf("X-Forwarded_Other = %q, want it forwarded; backend saw %v", got, s.Header)
	}
	if got := s.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the gateway's", got)
	}
	if id := s.Header.Get("X-Request-Id"); !generatedID.MatchString(id) {
		t.Errorf("X-Request-Id = %q, want one the gateway made", id)
	}
}

func TestUnderscoreAlias(t *testing.T) {
	for name, want := range map[string]bool{
		"x_forwarded_for": true, "X_Request_ID": true, "x-api_key": true, "TRANSFER_ENCODING": true,
		"x_forwarded_port": false, "x_custom": false, "content_type": false, "x-forwarded-for": true,
	} {
		if got := underscoreAlias(name); got != want {
			t.Errorf("underscoreAlias(%q) = %v, want %v", name, got, want)
		}
		if got := underscoreAlias([]byte(name)); got != want {
			t.Errorf("underscoreAlias([]byte(%q)) = %v, want %v", name, got, want)
		}
	}
}

func TestGatewayForwardedProtoHTTPS(t *testing.T) {
	backend := echoBackend(t, "a")
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	t.Cleanup(g.CloseIdleConnections)

	req := httptest.NewRequest(http.MethodGet, "https://"+testHost+"/", nil)
	req.TLS = &tls.ConnectionState{}
	req.RemoteAddr = "192.0.2.1:43210"
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	s := decodeSeen(t, rec.Body.Bytes())
	if got := s.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", got)
	}
	if got := s.Header.Get("X-Forwarded-For"); got != "192.0.2.1" {
		t.Errorf("X-Forwarded-For = %q, want 192.0.2.1", got)
	}
}

func TestGatewayRequestID(t *testing.T) {
	// The backend sends its own id; the client must only see the gateway's.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "backend-made-this-up")
		fmt.Fprint(w, r.Header.Get("X-Request-Id"))
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	client := newClient(t)

	long128 := strings.Repeat("a", 128)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"none", "", false},
		{"sane", "req-1.abc_DEF", true},
		{"max length", long128, true},
		{"too long", long128 + "b", false},
		{"space", "a b", false},
		{"quote", `a"b`, false},
		{"slash", "a/b", false},
		{"non-ascii", "café", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sent != "" {
				h.Set("X-Request-Id", tt.sent)
			}
			resp, body := get(t, client, front.URL, testHost, h)
			atBackend := string(body)
			if tt.keep && atBackend != tt.sent {
				t.Fatalf("backend got id %q, want the client's %q", atBackend, tt.sent)
			}
			if !tt.keep && !generatedID.MatchString(atBackend) {
				t.Fatalf("backend got id %q, want a generated one", atBackend)
			}
			if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != atBackend {
				t.Fatalf("response X-Request-Id = %q, want [%s]", got, atBackend)
			}
		})
	}

	// Two generated ids differ.
	r1, _ := get(t, client, front.URL, testHost, nil)
	r2, _ := get(t, client, front.URL, testHost, nil)
	if r1.Header.Get("X-Request-Id") == r2.Header.Get("X-Request-Id") {
		t.Fatal("generated request ids repeat")
	}
}

func TestGatewayStripsHopByHopFromRequest(t *testing.T) {
	backend := echoBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))

	resp, body := rawRoundTrip(t, addrOf(front), crlf(
		"POST /hop HTTP/1.1",
		"Host: "+testHost,
		"Connection: keep-alive, X-Secret",
		"X-Secret: listed-in-connection",
		"Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive",
		"Proxy-Authorization: Basic c2VjcmV0",
		"Te: gzip",
		"Trailer: X-Checksum",
		"Upgrade: h2c",
		"X-End-To-End: kept",
		"Content-Length: 4",
		"",
		"body"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	for _, h := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer", "Upgrade"} {
		if v, ok := s.Header[h]; ok {
			t.Errorf("hop-by-hop request header %s reached the backend: %q", h, v)
		}
	}
	if got := s.Header.Get("X-End-To-End"); got != "kept" {
		t.Errorf("X-End-To-End = %q, want kept", got)
	}
	if s.Body != "body" || s.Method != http.MethodPost {
		t.Errorf("backend got %s %q", s.Method, s.Body)
	}
}

func TestGatewayForwardsTETrailers(t *testing.T) {
	// "TE: trailers" is the one TE value ReverseProxy re-asserts on the
	// next hop (gRPC needs it); we speak HTTP/1.1 with trailers, so it is
	// true of the gateway too.
	backend := echoBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	_, body := rawRoundTrip(t, addrOf(front), crlf("GET / HTTP/1.1", "Host: "+testHost, "TE: trailers, gzip", "", ""))
	if got := decodeSeen(t, body).Header.Get("Te"); got != "trailers" {
		t.Fatalf("Te = %q, want trailers", got)
	}
}

func TestGatewayStripsHopByHopFromResponse(t *testing.T) {
	addr := rawBackend(t, crlf(
		"HTTP/1.1 200 OK",
		"Connection: X-Backend-Secret",
		"X-Backend-Secret: listed-in-connection",
		"Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive",
		"Proxy-Authenticate: Basic realm=x",
		"Te: trailers",
		"Trailer: X-Checksum",
		"Upgrade: h2c",
		"X-End-To-End: kept",
		"Content-Type: text/plain",
		"Content-Length: 2",
		"",
		"ok"))
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "raw", Addr: addr}}})

	resp, body := get(t, newClient(t), front.URL, testHost, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	for _, h := range []string{"Connection", "X-Backend-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer", "Upgrade"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("hop-by-hop response header %s reached the client: %q", h, v)
		}
	}
	if got := resp.Header.Get("X-End-To-End"); got != "kept" {
		t.Errorf("X-End-To-End = %q, want kept", got)
	}
	if !generatedID.MatchString(resp.Header.Get("X-Request-Id")) {
		t.Errorf("X-Request-Id missing on proxied response")
	}
}

// errorResponse checks the shape shared by every gateway error and
// returns its code and message.
func errorResponse(t *testing.T, resp *http.Response, body []byte, wantStatus int) (code, message string) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, wantStatus, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !generatedID.MatchString(resp.Header.Get("X-Request-Id")) {
		t.Errorf("X-Request-Id = %q on an error response", resp.Header.Get("X-Request-Id"))
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code, e.Error.Message
}

func TestGatewayNotFound(t *testing.T) {
	_, front := newTestGateway(t, Config{Domain: "apps.test"})
	resp, body := get(t, newClient(t), front.URL, "Nope.Apps.Test:8080", nil)
	errorResponse(t, resp, body, http.StatusNotFound)
	want := `{"error":{"code":"not_found","message":"no stack serves host \"nope.apps.test\"; stages are served at <stage>.<stack>.apps.test"}}` + "\n"
	if string(body) != want {
		t.Fatalf("body = %s\nwant   %s", body, want)
	}

	// A huge Host is echoed only in part.
	resp, body = get(t, newClient(t), front.URL, strings.Repeat("a", 4000)+".apps.test", nil)
	_, msg := errorResponse(t, resp, body, http.StatusNotFound)
	if len(msg) > 400 || !strings.Contains(msg, `aaa..."`) {
		t.Fatalf("message not truncated (%d bytes): %.80s", len(msg), msg)
	}
}

func TestGatewayNoHealthyInstance(t *testing.T) {
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev"})
	resp, body := get(t, newClient(t), front.URL, testHost, nil)
	errorResponse(t, resp, body, http.StatusBadGateway)
	want := `{"error":{"code":"no_healthy_instance","message":"stage \"dev\" of stack \"hello\" has no healthy instance"}}` + "\n"
	if string(body) != want {
		t.Fatalf("body = %s\nwant   %s", body, want)
	}
}

func TestGatewayDialFailure(t *testing.T) {
	addr := refusedAddr(t)
	_, port, _ := net.SplitHostPort(addr)

	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "gone", Addr: addr}}})
	resp, body := get(t, newClient(t), front.URL, testHost, nil)
	code, msg := errorResponse(t, resp, body, http.StatusBadGateway)
	if code != CodeBadGateway {
		t.Fatalf("code = %q, want %q", code, CodeBadGateway)
	}
	if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, port) || strings.Contains(msg, "gone") {
		t.Fatalf("message leaks the backend: %q", msg)
	}
}

func TestGatewayBackendClosesConnection(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	resp, body := get(t, newClient(t), front.URL, testHost, nil)
	if code, _ := errorResponse(t, resp, body, http.StatusBadGateway); code != CodeBadGateway {
		t.Fatalf("code = %q, want %q", code, CodeBadGateway)
	}
}

func TestGatewayResponseHeaderTimeout(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{ResponseHeaderTimeout: 100 * time.Millisecond}, route(testHost, backend))
	start := time.Now()
	resp, body := get(t, newClient(t), front.URL, testHost, nil)
	code, msg := errorResponse(t, resp, body, http.StatusGatewayTimeout)
	if code != CodeGatewayTimeout {
		t.Fatalf("code = %q, want %q", code, CodeGatewayTimeout)
	}
	if strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("message leaks the backend: %q", msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

// upstreamsFunc adapts a function to Upstreams.
type upstreamsFunc func(ctx context.Context, r *Route) (Backend, func(), error)

func (f upstreamsFunc) Acquire(ctx context.Context, r *Route) (Backend, func(), error) {
	return f(ctx, r)
}

func TestGatewayUpstreamsErrors(t *testing.T) {
	tests := []struct {
		name       string
		backend    Backend
		err        error
		wantStatus int
		wantCode   string
	}{
		{"no backend", Backend{}, fmt.Errorf("wake: %w", ErrNoBackend), http.StatusBadGateway, CodeNoHealthyInstance},
		{"empty backend without error", Backend{}, nil, http.StatusBadGateway, CodeNoHealthyInstance},
		{"cold start timed out", Backend{}, fmt.Errorf("wake: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, CodeGatewayTimeout},
		{"other error", Backend{}, errors.New("engine exploded at 10.0.0.3"), http.StatusBadGateway, CodeBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var released atomic.Int32
			up := upstreamsFunc(func(context.Context, *Route) (Backend, func(), error) {
				return tt.backend, func() { released.Add(1) }, tt.err
			})
			_, front := newTestGateway(t, Config{Upstreams: up}, Route{Host: testHost, Stack: "hello", Stage: "dev"})
			resp, body := get(t, newClient(t), front.URL, testHost, nil)
			code, msg := errorResponse(t, resp, body, tt.wantStatus)
			if code != tt.wantCode {
				t.Fatalf("code = %q, want %q", code, tt.wantCode)
			}
			if strings.Contains(msg, "10.0.0.3") {
				t.Fatalf("message leaks the error: %q", msg)
			}
			if n := released.Load(); n != 1 {
				t.Fatalf("release called %d times, want 1", n)
			}
		})
	}
}

func TestGatewayReleasesAfterResponse(t *testing.T) {
	backend := echoBackend(t, "a")
	var acquired, released atomic.Int32
	var releasedEarly atomic.Bool
	rr := RoundRobin()
	up := upstreamsFunc(func(ctx context.Context, r *Route) (Backend, func(), error) {
		b, _, err := rr.Acquire(ctx, r)
		acquired.Add(1)
		return b, func() { released.Add(1) }, err
	})
	infos := make(chan RequestInfo, 10)
	_, front := newTestGateway(t, Config{Upstreams: up, OnRequest: func(ri RequestInfo) {
		if released.Load() != acquired.Load() {
			releasedEarly.Store(true) // release must come before the access log
		}
		infos <- ri
	}}, route(testHost, backend))
	client := newClient(t)
	for range 5 {
		get(t, client, front.URL, testHost, nil)
		<-infos
	}
	if a, r := acquired.Load(), released.Load(); a != 5 || r != 5 {
		t.Fatalf("acquired %d, released %d; want 5 and 5", a, r)
	}
	if releasedEarly.Load() {
		t.Fatal("OnRequest ran before release")
	}
}

func TestGatewayOnRequest(t *testing.T) {
	backend := echoBackend(t, "a")
	infos := make(chan RequestInfo, 10)
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infos <- ri }}, route(testHost, backend))
	client := newClient(t)

	resp, body := get(t, client, front.URL+"/some/path?x=1", "DEV.hello.localhost:8080", http.Header{"X-Request-Id": {"abc-123"}})
	ri := <-infos
	want := RequestInfo{
		RequestID: "abc-123", Host: "DEV.hello.localhost:8080", Stack: "hello", Stage: "dev",
		Method: http.MethodGet, Path: "/some/path", Status: http.StatusOK,
		BytesOut: int64(len(body)), BackendID: "inst-a", Attempts: 1, ClientIP: "127.0.0.1",
	}
	if ri.Duration <= 0 {
		t.Errorf("Duration = %v", ri.Duration)
	}
	ri.Duration = 0
	if ri != want || resp.StatusCode != http.StatusOK {
		t.Fatalf("RequestInfo = %+v\nwant %+v", ri, want)
	}

	resp, body = get(t, client, front.URL+"/x", "unknown.localhost", nil)
	ri = <-infos
	if ri.Status != http.StatusNotFound || ri.Stack != "" || ri.BackendID != "" || ri.Attempts != 0 || ri.BytesOut != int64(len(body)) ||
		ri.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("404 RequestInfo = %+v", ri)
	}
}

func TestGatewayClientGoneIsLogged499(t *testing.T) {
	arrived := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(backend.Close)
	infos := make(chan RequestInfo, 1)
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infos <- ri }}, route(testHost, backend))

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL, nil)
	req.Host = testHost
	go func() { <-arrived; cancel() }()
	if resp, err := newClient(t).Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded after cancel")
	}
	select {
	case ri := <-infos:
		if ri.Status != StatusClientClosedRequest {
			t.Fatalf("status = %d, want 499", ri.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RequestInfo after the client left")
	}
}

// TestGatewaySwapUnderLoad swaps tables between two backends while many
// requests run; every request must succeed. Run with -race.
func TestGatewaySwapUnderLoad(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	tables := []*RouteTable{
		NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addrOf(a)}}}}),
		NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "b", Addr: addrOf(b)}}}}),
		NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addrOf(a)}, {ID: "b", Addr: addrOf(b)}}}}),
	}
	g, front := newTestGateway(t, Config{})
	g.Update(tables[0])
	client := newClient(t)

	const workers, each = 16, 100
	done := make(chan struct{})
	var swaps atomic.Int64
	var swapper sync.WaitGroup
	swapper.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			g.Update(tables[i%len(tables)])
			_ = g.Table().Routes()
			swaps.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	})

	var mu sync.Mutex
	served := map[string]int{}
	var failures atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
				req.Host = testHost
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					t.Errorf("request: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					t.Errorf("status %d: %s", resp.StatusCode, body)
					continue
				}
				var s seen
				if err := json.Unmarshal(body, &s); err != nil {
					t.Errorf("body %q: %v", body, err)
					continue
				}
				mu.Lock()
				served[s.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	swapper.Wait()

	if failures.Load() > 0 {
		t.Fatalf("%d requests failed during swaps", failures.Load())
	}
	if served["a"]+served["b"] != workers*each || served["a"] == 0 || served["b"] == 0 {
		t.Fatalf("served = %v over %d swaps, want both backends and %d requests", served, swaps.Load(), workers*each)
	}
	t.Logf("served %v over %d swaps", served, swaps.Load())
}

func TestGatewayUpdateNil(t *testing.T) {
	g := New(Config{})
	g.Update(nil)
	if g.Table() == nil || g.Table().Len() != 0 {
		t.Fatal("Update(nil) must install an empty table")
	}
}

func TestGatewayTransportIgnoresProxyEnvironment(t *testing.T) {
	g := New(Config{})
	tr := g.transport
	if tr.Proxy != nil || tr.ForceAttemptHTTP2 || !tr.DisableCompression ||
		tr.MaxIdleConns != 4096 || tr.MaxIdleConnsPerHost != 1024 || tr.IdleConnTimeout != 90*time.Second ||
		tr.ResponseHeaderTimeout != DefaultResponseHeaderTimeout {
		t.Fatalf("transport not tuned: %+v", tr)
	}
	if g.proxy.BufferPool == nil || g.proxy.Rewrite == nil || g.proxy.Director != nil {
		t.Fatal("reverse proxy must use Rewrite and a BufferPool")
	}
}

// TestGatewayLeastOutstanding holds a request on a slow backend: by
// default new requests go to the idle one; a round_robin route keeps
// rotating into the busy one.
func TestGatewayLeastOutstanding(t *testing.T) {
	for _, tt := range []struct {
		balance  string
		wantSlow int // of 4 requests sent while one is stuck on the slow backend
	}{{"", 0}, {BalanceRoundRobin, 2}} {
		t.Run("balance="+tt.balance, func(t *testing.T) {
			unblock := make(chan struct{})
			arrived := make(chan struct{}, 10)
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				if r.URL.Path == "/stuck" {
					<-unblock
				}
				fmt.Fprint(w, `{"ID":"slow"}`)
			}))
			t.Cleanup(slow.Close)
			rt := Route{Host: testHost, Stack: "hello", Stage: "dev", Balance: tt.balance,
				Backends: []Backend{{ID: "slow", Addr: addrOf(slow)}, {ID: "fast", Addr: addrOf(echoBackend(t, "fast"))}}}
			_, front := newTestGateway(t, Config{}, rt)
			t.Cleanup(func() { close(unblock) }) // before the servers close
			client := newClient(t)

			// A request gets stuck on the slow backend.
			for stuck := false; !stuck; {
				go func() {
					req, _ := http.NewRequest(http.MethodGet, front.URL+"/stuck", nil)
					req.Host = testHost
					if resp, err := client.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
				select {
				case <-arrived:
					stuck = true
				case <-time.After(200 * time.Millisecond): // went to the fast backend
				}
			}
			slowHits := 0
			for range 4 {
				if _, body := get(t, client, front.URL+"/", testHost, nil); decodeSeen(t, body).ID == "slow" {
					slowHits++
					<-arrived
				}
			}
			if slowHits != tt.wantSlow {
				t.Fatalf("%d of 4 requests went to the busy backend, want %d", slowHits, tt.wantSlow)
			}
		})
	}
}
