package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSuiteThroughNetHTTP runs this package's tests again with the
// gateway served by net/http alone (SLIPWAY_TEST_GATEWAY_NETHTTP), as
// HTTPS and the connections the fast path hands over are: both ways of
// serving must pass the same tests.
func TestSuiteThroughNetHTTP(t *testing.T) {
	if viaNetHTTP {
		t.Skip("already running through net/http")
	}
	if testing.Short() {
		t.Skip("runs the package's tests a second time")
	}
	rerunSuite(t, "SLIPWAY_TEST_GATEWAY_NETHTTP=1", "through net/http")
}

// rerunSuite runs this package's tests, but for the suites and fuzz
// targets, in a process with env added to its environment.
func rerunSuite(t *testing.T, env, how string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.skip=^(TestSuiteThroughNetHTTP|TestSuiteWithoutEventLoops|Fuzz.*)$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests %s failed: %v\n%s", how, err, out)
	}
}

// TestSuiteWithoutEventLoops runs this package's tests again with the
// Frontend's event loops off (SLIPWAY_EVENT_LOOPS=0), as on systems
// without epoll and listeners that are not TCP listeners: the fast
// path's goroutines then serve every connection from its first request.
func TestSuiteWithoutEventLoops(t *testing.T) {
	if viaNetHTTP || os.Getenv("SLIPWAY_EVENT_LOOPS") == "0" {
		t.Skip("already running without event loops")
	}
	if testing.Short() {
		t.Skip("runs the package's tests another time")
	}
	rerunSuite(t, "SLIPWAY_EVENT_LOOPS=0", "without event loops")
}

// frontOnly skips a test about the fast path itself when the suite runs
// through net/http.
func frontOnly(t *testing.T) {
	t.Helper()
	if viaNetHTTP {
		t.Skip("a test of the Frontend's fast path")
	}
}

// goroutinesOnly turns the event loops off for a test of how the fast
// path's goroutines serve a connection from its first request.
func goroutinesOnly(t *testing.T) {
	t.Helper()
	t.Setenv("SLIPWAY_EVENT_LOOPS", "0")
}

// counted wraps a test server's handler to count the requests it gets.
func markedBackend(t *testing.T, mark string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Mark", mark)
		fmt.Fprintf(w, "%s %s %s %s", mark, r.Method, r.URL.RequestURI(), body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// readResponses reads n responses from br, each body whole.
func readResponses(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var bodies []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %d responses: %v", len(bodies), err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, fmt.Sprintf("%d %s", resp.StatusCode, body))
	}
	return bodies
}

// One connection carries pipelined requests the fast path serves, then
// one it hands to net/http (a chunked body), then more: every answer
// comes, in order, and net/http keeps the connection.
func TestFrontendPipelinesAndHandsOver(t *testing.T) {
	backend, _ := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	h := "Host: " + testHost + "\r\n"
	io.WriteString(c, "GET /1 HTTP/1.1\r\n"+h+"\r\n"+
		"POST /2 HTTP/1.1\r\n"+h+"Content-Length: 3\r\n\r\nabc"+
		"POST /3 HTTP/1.1\r\n"+h+"Transfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"+
		"GET /4 HTTP/1.1\r\n"+h+"\r\n")
	br := bufio.NewReader(c)
	got := readResponses(t, br, 4)
	want := []string{"200 a GET /1 ", "200 a POST /2 abc", "200 a POST /3 xyz", "200 a GET /4 "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("responses %q, want %q", got, want)
	}
	// The connection is still open, now with net/http.
	io.WriteString(c, "GET /5 HTTP/1.1\r\n"+h+"\r\n")
	if got := readResponses(t, br, 1); got[0] != "200 a GET /5 " {
		t.Fatalf("after the hand-over: %q", got)
	}
}

// A body that arrives in pieces, and one larger than the connection's
// buffer, reach the backend whole.
func TestFrontendReadsBodiesInPieces(t *testing.T) {
	backend, _ := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, size := range []int{10, 3000, 20000, fastBodyMax} {
		body := strings.Repeat("x", size)
		io.WriteString(c, fmt.Sprintf("PUT /p HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", testHost, size, body[:size/2]))
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, body[size/2:])
		if got := readResponses(t, br, 1)[0]; got != "200 a PUT /p "+body {
			t.Fatalf("%d bytes: got %d bytes back", size, len(got))
		}
	}
}

// Each way a backend frames a body reaches the client intact: chunked
// with trailers, until close (chunked to the client, whose connection
// stays), a HEAD's length without a body, 204 and 304.
func TestFrontendRelaysFramings(t *testing.T) {
	tests := []struct {
		name, method, response string
		status                 int
		body                   string
		trailer                string
	}{
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n", 200, "abcde", "5"},

		{"HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200, "", ""},
		{"204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", ""},
		{"304", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304, "", ""},
	}
	for _, response := range []struct{ name, raw, body string }{
		{"until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", "to the end"},
		{"HTTP/1.0 until close", "HTTP/1.0 200 OK\r\n\r\nold", "old"},
		// HTTP/1.0 has no chunked framing: Go's reader ignores the field.
		{"HTTP/1.0 with Transfer-Encoding", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n"},
	} {
		tests = append(tests, struct {
			name, method, response string
			status                 int
			body                   string
			trailer                string
		}{response.name, "GET", response.raw, 200, response.body, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
				// One response per connection; those framed by the
				// close need it.
				if _, err := http.ReadRequest(br); err == nil {
					io.WriteString(c, tt.response)
				}
			})
			_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addr}}})
			c := dialFront(t, front)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for i := range 2 { // the client's connection stays usable
				fmt.Fprintf(c, "%s / HTTP/1.1\r\nHost: %s\r\n\r\n", tt.method, testHost)
				resp, err := http.ReadResponse(br, &http.Request{Method: tt.method})
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tt.status || string(body) != tt.body || resp.Trailer.Get("X-Sum") != tt.trailer {
					t.Fatalf("request %d: %d %q (trailer %q), %v", i, resp.StatusCode, body, resp.Trailer.Get("X-Sum"), err)
				}
				if tt.method == "HEAD" && resp.ContentLength != 1234 {
					t.Fatalf("HEAD: length %d, want the backend's 1234", resp.ContentLength)
				}
				if resp.Close {
					t.Fatalf("request %d: the gateway closes the client's connection", i)
				}
			}
		})
	}
}

// A backend that cuts a response mid-body: the client's response must
// not look complete, so its connection ends there.
func TestFrontendAbortsCutResponse(t *testing.T) {
	addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
	})
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addr}}})
	req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
	req.Host = testHost
	resp, err := newClient(t).Do(req)
	if err != nil {
		return // net/http had not sent the head yet: the client sees the close
	}
	defer resp.Body.Close()
	if body, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("read a whole body %q from a cut response", body)
	}
}

// Heads over MaxHeaderBytes get 431 and a close, as from net/http.
func TestFrontendHeadTooLarge(t *testing.T) {
	backend, hits := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	raw := "GET / HTTP/1.1\r\nHost: " + testHost + "\r\nX-Big: " + strings.Repeat("b", MaxHeaderBytes+8<<10) + "\r\n\r\n"
	resp, _ := rawRoundTrip(t, front.Listener.Addr().String(), raw)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || hits.Load() != 0 {
		t.Fatalf("status %d, backend hits %d; want 431 and none", resp.StatusCode, hits.Load())
	}
}

// The idle timeout of the route that served a connection's last request
// closes it, and a head that does not finish in time ends it too.
func TestFrontendTimeouts(t *testing.T) {
	frontOnly(t)
	backend, _ := markedBackend(t, "a")
	rt := route(testHost, backend)
	rt.IdleTimeout = 150 * time.Millisecond
	_, front := newTestGateway(t, Config{}, rt)
	c := dialFront(t, front)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	br := bufio.NewReader(c)
	readResponses(t, br, 1)
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if idle := time.Since(start); idle < 100*time.Millisecond || idle > 5*time.Second {
		t.Fatalf("closed after %v idle, want about 150ms", idle)
	}
}

// A slow client (slowloris) is cut off ReadHeaderTimeout after its
// request began, however it trickles.
func TestFrontendHeaderTimeout(t *testing.T) {
	frontOnly(t)
	g := New(Config{})
	fe := g.NewFrontend(FrontendConfig{})
	fe.headerTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fe.Serve(ln)
	t.Cleanup(func() { fe.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	for time.Since(start) < 3*time.Second {
		if _, err := io.WriteString(c, "X-A: a\r\n"); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after a trickled head: %v, want the connection closed", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// Bypass sends requests to the fallback server: ACME challenges and
// redirects to HTTPS are answered there.
func TestFrontendBypass(t *testing.T) {
	frontOnly(t)
	backend, hits := markedBackend(t, "a")
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	fallback := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/") {
			io.WriteString(w, "fallback")
			return
		}
		g.ServeHTTP(w, r)
	})}
	fe := g.NewFrontend(FrontendConfig{Fallback: fallback, Bypass: func(host, path string) bool {
		return strings.HasPrefix(path, "/.well-known/")
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fe.Serve(ln)
	t.Cleanup(func() { fe.Close() })
	c := newClient(t)
	if _, body := get(t, c, "http://"+ln.Addr().String()+"/.well-known/acme-challenge/x", testHost, nil); string(body) != "fallback" || hits.Load() != 0 {
		t.Fatalf("challenge: %q, backend hits %d", body, hits.Load())
	}
	if _, body := get(t, c, "http://"+ln.Addr().String()+"/app", testHost, nil); string(body) != "a GET /app " {
		t.Fatalf("app: %q", body)
	}
}

// Shutdown lets a request in flight finish, with Connection: close, and
// closes idle connections.
func TestFrontendShutdown(t *testing.T) {
	frontOnly(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	t.Cleanup(slow.Close)
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, slow)}))
	fe := g.NewFrontend(FrontendConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- fe.Serve(ln) }()

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprintf(busy, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	time.Sleep(100 * time.Millisecond)

	shut := make(chan error, 1)
	go func() { shut <- fe.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" || !resp.Close {
		t.Fatalf("in flight: %q, close=%v; want done and Connection: close", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// A route with middleware and Admit is served by the fast path, with
// Admit's answers; without Admit, by net/http through the middleware.
func TestFrontendAdmit(t *testing.T) {
	backend, hits := markedBackend(t, "a")
	var infos []RequestInfo
	infoc := make(chan RequestInfo, 16)
	rt := route(testHost, backend)
	rt.Middleware = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Api-Key") != "good" {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"message":"Forbidden"}`)
				return
			}
			SetAPIKey(w, "mobile")
			next.ServeHTTP(w, r)
		})
	}
	rt.Admit = func(a AdmitRequest) Admission {
		if a.APIKey != "good" {
			return Admission{Status: http.StatusForbidden, Body: []byte(`{"message":"Forbidden"}`)}
		}
		return Admission{APIKeyName: "mobile"}
	}
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infoc <- ri }}, rt)
	c := newClient(t)
	resp, body := get(t, c, front.URL+"/x", testHost, http.Header{"X-Api-Key": {"bad"}})
	if resp.StatusCode != http.StatusForbidden || string(body) != `{"message":"Forbidden"}` || hits.Load() != 0 {
		t.Fatalf("bad key: %d %q, backend hits %d", resp.StatusCode, body, hits.Load())
	}
	resp, body = get(t, c, front.URL+"/x", testHost, http.Header{"X-Api-Key": {"good"}})
	if resp.StatusCode != http.StatusOK || string(body) != "a GET /x " {
		t.Fatalf("good key: %d %q", resp.StatusCode, body)
	}
	for range 2 {
		select {
		case ri := <-infoc:
			infos = append(infos, ri)
		case <-time.After(5 * time.Second):
			t.Fatal("no RequestInfo")
		}
	}
	if infos[0].Status != http.StatusForbidden || infos[1].Status != http.StatusOK || infos[1].APIKey != "mobile" {
		t.Fatalf("RequestInfos %+v", infos)
	}
}
