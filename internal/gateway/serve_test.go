package gateway

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// selfServing is an Upstreams whose backends answer requests themselves,
// the way the serverless activator does, and which throttles on demand.
type selfServing struct {
	throttle atomic.Bool
	released atomic.Int32
}

func (u *selfServing) Acquire(ctx context.Context, r *Route) (Backend, func(), error) {
	if u.throttle.Load() {
		return Backend{}, nil, &Reject{Status: http.StatusTooManyRequests, Code: "throttled", Message: "too many requests", RetryAfter: 1500 * time.Millisecond, Header: http.Header{"X-Why": {"busy"}}}
	}
	return Backend{ID: "fn-1", Serve: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Served-By", "fn-1 "+req.Header.Get("X-Request-Id"))
		MarkColdStart(w, 250*time.Millisecond)
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("served in process"))
	})}, func() { u.released.Add(1) }, nil
}

func TestRouteUpstreamsAndSelfServingBackends(t *testing.T) {
	up := &selfServing{}
	infos := make(chan RequestInfo, 10)
	self := Route{Host: "dev.fn.localhost", Stack: "fn", Stage: "dev", Upstreams: up}
	plain := route(testHost, echoBackend(t, "a"))
	_, front := newTestGateway(t, Config{OnRequest: func(i RequestInfo) { infos <- i }}, self, plain)
	c := newClient(t)

	resp, body := get(t, c, front.URL+"/x", "dev.fn.localhost", nil)
	if resp.StatusCode != http.StatusTeapot || string(body) != "served in process" {
		t.Fatalf("self-serving backend: %d %q", resp.StatusCode, body)
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || resp.Header.Get("X-Served-By") != "fn-1 "+id {
		t.Errorf("request id not shared with the backend: %q / %q", id, resp.Header.Get("X-Served-By"))
	}
	if up.released.Load() != 1 {
		t.Errorf("released %d times, want 1", up.released.Load())
	}
	// Other routes keep the gateway's own upstreams.
	if resp, _ := get(t, c, front.URL+"/", testHost, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("plain route: %d", resp.StatusCode)
	}

	up.throttle.Store(true)
	resp, body = get(t, c, front.URL+"/x", "dev.fn.localhost", nil)
	if resp.Header.Get("Retry-After") != "2" || resp.Header.Get("X-Why") != "busy" {
		t.Errorf("reject: Retry-After %q, X-Why %q", resp.Header.Get("Retry-After"), resp.Header.Get("X-Why"))
	}
	if code, msg := errorResponse(t, resp, body, http.StatusTooManyRequests); code != "throttled" || msg != "too many requests" {
		t.Errorf("reject body: %s", body)
	}
	var got []RequestInfo
	for range 3 {
		got = append(got, <-infos)
	}
	if got[0].Status != http.StatusTeapot || got[0].BackendID != "fn-1" || got[0].Attempts != 1 || !got[0].ColdStart || got[0].Init != 250*time.Millisecond ||
		got[1].ColdStart || got[2].Status != 429 {
		t.Errorf("access log: %+v", got)
	}
}

// headerServing is an Upstreams whose one in-process backend sends the
// headers it was handed to seen.
type headerServing struct{ seen chan http.Header }

func (u headerServing) Acquire(context.Context, *Route) (Backend, func(), error) {
	return Backend{ID: "fn-1", Serve: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u.seen <- req.Header.Clone()
	})}, func() {}, nil
}

// A backend that serves in process (a serverless stage) gets the
// forwarding headers every backend gets, never the client's own.
func TestSelfServingBackendGetsGatewayForwarding(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		wantXFF string
	}{
		{"no trusted proxies", nil, "127.0.0.1"},
		{"peer trusted", prefixes(t, "127.0.0.0/8"), "198.51.100.1, 127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := headerServing{seen: make(chan http.Header, 1)}
			_, front := newTestGateway(t, Config{TrustedProxies: tt.trusted},
				Route{Host: "dev.fn.localhost", Stack: "fn", Stage: "dev", Upstreams: up})
			h := http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Host": {"evil.example"},
				"Forwarded": {"for=192.0.2.60"}, "X-Real-Ip": {"6.6.6.6"}, "X_Forwarded_For": {"6.6.6.6"}}
			if resp, body := get(t, newClient(t), front.URL+"/x", "dev.fn.localhost", h); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			seen := <-up.seen
			if got := seen.Values("X-Forwarded-For"); len(got) != 1 || got[0] != tt.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want [%s]", got, tt.wantXFF)
			}
			if got := seen.Values("X-Forwarded-Host"); len(got) != 1 || got[0] != "dev.fn.localhost" {
				t.Errorf("X-Forwarded-Host = %q, want the client's Host", got)
			}
			if got := seen.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
				t.Errorf("X-Forwarded-Proto = %q, want [http]", got)
			}
			for _, k := range []string{"Forwarded", "X_Forwarded_For"} {
				if v, ok := seen[k]; ok {
					t.Errorf("the client's %s reached the backend: %q", k, v)
				}
			}
			if _, ok := seen["X-Real-Ip"]; ok != (tt.trusted != nil) {
				t.Errorf("X-Real-Ip reached the backend: %v, want %v", ok, tt.trusted != nil)
			}
		})
	}
}

// Over HTTPS an in-process backend is told so, as a forwarded one is.
func TestSelfServingBackendForwardedProtoHTTPS(t *testing.T) {
	up := headerServing{seen: make(chan http.Header, 1)}
	g := New(Config{})
	g.Update(NewRouteTable([]Route{{Host: "dev.fn.localhost", Stack: "fn", Stage: "dev", Upstreams: up}}))
	req := httptest.NewRequest(http.MethodGet, "https://dev.fn.localhost/", nil)
	req.TLS = &tls.ConnectionState{}
	req.RemoteAddr = "192.0.2.1:43210"
	req.Header.Set("X-Forwarded-Proto", "http")
	g.ServeHTTP(httptest.NewRecorder(), req)
	seen := <-up.seen
	if got := seen.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want [https]", got)
	}
	if got := seen.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("X-Forwarded-For = %q, want [192.0.2.1]", got)
	}
}
