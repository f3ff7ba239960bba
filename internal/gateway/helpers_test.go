package gateway

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const testHost = "dev.hello.localhost"

// seen is what echoBackend reports about the request it received.
type seen struct {
	ID       string
	Host     string
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     string
}

// echoBackend answers every request with a JSON description of it.
func echoBackend(t *testing.T, id string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			ID: id, Host: r.Host, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header, Body: string(body),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func addrOf(srv *httptest.Server) string { return srv.Listener.Addr().String() }

func route(host string, backends ...*httptest.Server) Route {
	r := Route{Host: host, Stack: "hello", Stage: "dev"}
	for i, b := range backends {
		r.Backends = append(r.Backends, Backend{ID: "inst-" + string(rune('a'+i)), Addr: addrOf(b)})
	}
	return r
}

// newTestGateway serves a Gateway over HTTP on 127.0.0.1.
func newTestGateway(t *testing.T, cfg Config, routes ...Route) (*Gateway, *httptest.Server) {
	t.Helper()
	g := New(cfg)
	g.Update(NewRouteTable(routes))
	return g, serveTestGateway(t, g)
}

// viaNetHTTP, set by TestSuiteThroughNetHTTP in the process it starts,
// makes serveTestGateway serve with net/http alone, as the HTTPS
// listener does, instead of through a Frontend (as the plain listener).
var viaNetHTTP = os.Getenv("SLIPWAY_TEST_GATEWAY_NETHTTP") == "1"

// serveTestGateway serves g on 127.0.0.1 as the server's plain listener
// does: a Frontend whose fallback is an http.Server with the gateway's
// settings. front.Config is that fallback.
func serveTestGateway(t *testing.T, g *Gateway) *httptest.Server {
	t.Helper()
	return serveTestGatewayOn(t, g, nil)
}

// serveTestGatewayOn is serveTestGateway with the test server's listener
// wrapped by wrap, when not nil.
func serveTestGatewayOn(t *testing.T, g *Gateway, wrap func(net.Listener) net.Listener) *httptest.Server {
	t.Helper()
	if viaNetHTTP {
		return strictNetHTTP(t, g, wrap)
	}
	front := httptest.NewUnstartedServer(g)
	if wrap != nil {
		front.Listener = wrap(front.Listener)
	}
	front.Config.ReadHeaderTimeout = ReadHeaderTimeout
	front.Config.MaxHeaderBytes = MaxHeaderBytes
	front.Config.IdleTimeout = IdleTimeout
	front.Config.ConnContext = ConnContext
	front.URL = "http://" + front.Listener.Addr().String()
	fe := g.NewFrontend(FrontendConfig{Fallback: front.Config})
	done := make(chan error, 1)
	go func() { done <- fe.Serve(front.Listener) }()
	t.Cleanup(func() {
		fe.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Frontend.Serve: %v", err)
		}
		g.CloseIdleConnections()
	})
	return front
}

// newClient is an HTTP client that never uses a proxy from the
// environment and keeps enough idle connections for the load tests.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get sends a request with the given Host and headers and reads the body.
func get(t *testing.T, c *http.Client, url, host string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func decodeSeen(t *testing.T, body []byte) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decode backend echo %q: %v", body, err)
	}
	return s
}

// rawRoundTrip writes raw bytes to addr and parses one response, for
// headers net/http's client would not let us send.
func rawRoundTrip(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	return rawRoundTripWithin(t, addr, raw, 10*time.Second)
}

// rawRoundTripWithin is rawRoundTrip with a deadline of d.
func rawRoundTripWithin(t *testing.T, addr, raw string, d time.Duration) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// dialFront opens a connection to a test gateway, closed when the test
// ends.
func dialFront(t *testing.T, front *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawBackend answers every request on every connection with the exact
// bytes of response, for headers net/http's server would rewrite.
func rawBackend(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(conn, response); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// crlf turns a readable multi-line message into HTTP wire format.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") }
