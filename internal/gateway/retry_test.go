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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// refusedAddr returns an address that refuses connections until the test
// ends. A closed listener's port would not do: the kernel may give it to
// a listener opened later, even the gateway's own (which then proxies to
// itself). A socket bound but never listening keeps the port taken, and
// connecting to it is refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// tcpBackend runs handle on every connection accepted on 127.0.0.1 and
// closes the connection when handle returns.
func tcpBackend(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				handle(conn)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// resettingBackend reads each request (with its body, if readBody), then
// resets the connection without a byte of response, like an instance
// killed while handling it. It counts the requests and keeps the last one's headers.
type resettingBackend struct {
	addr string
	hits atomic.Int32
	mu   sync.Mutex
	last http.Header
}

func newResettingBackend(t *testing.T, readBody bool) *resettingBackend {
	rb := &resettingBackend{}
	rb.addr = tcpBackend(t, func(conn net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		if readBody {
			_, _ = io.Copy(io.Discard, req.Body)
		}
		rb.mu.Lock()
		rb.last = req.Header
		rb.mu.Unlock()
		rb.hits.Add(1)
		_ = conn.(*net.TCPConn).SetLinger(0) // close sends RST, not FIN
	})
	return rb
}

// countingBackend is echoBackend that also counts its requests.
func countingBackend(t *testing.T, id string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	echo := echoBackend(t, id)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echo.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// send sends method to the gateway with the test host and reads the body.
func send(t *testing.T, c *http.Client, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = testHost
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// infoSink collects RequestInfo; a request is reported after its response
// was written, so tests wait for it. put never blocks the gateway: a
// report beyond the buffer means a test went wrong, and it must fail, not
// hang in the server's Close.
type infoSink chan RequestInfo

func (s infoSink) put(ri RequestInfo) {
	select {
	case s <- ri:
	default:
	}
}

func (s infoSink) next(t *testing.T) RequestInfo {
	t.Helper()
	select {
	case ri := <-s:
		return ri
	case <-time.After(5 * time.Second):
		t.Fatal("no RequestInfo")
		return RequestInfo{}
	}
}

func TestGatewayRetriesRefusedInstance(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "c")
	rt := Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{
		{ID: "a", Addr: addrOf(a)}, {ID: "dead", Addr: refusedAddr(t)}, {ID: "c", Addr: addrOf(b)}}}
	infos := make(infoSink, 100)
	_, front := newTestGateway(t, Config{SkipFailedFor: time.Minute, OnRequest: infos.put}, rt)
	client := newClient(t)

	retried := 0
	for i := range 30 {
		resp, body := send(t, client, http.MethodGet, front.URL, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, body)
		}
		ri := infos.next(t)
		if s := decodeSeen(t, body); ri.BackendID != s.ID {
			t.Fatalf("request %d: RequestInfo.BackendID = %q, answered by %q", i, ri.BackendID, s.ID)
		}
		switch ri.Attempts {
		case 1:
		case 2:
			retried++
		default:
			t.Fatalf("request %d: %d attempts", i, ri.Attempts)
		}
	}
	// The second request meets the dead instance; after that RoundRobin
	// skips it, so no other request pays for it.
	if retried != 1 {
		t.Fatalf("%d requests retried, want exactly 1: the dead instance must be skipped after its first failure", retried)
	}
}

// TestGatewayRetriesUnderLoad kills one of three instances (its listener
// closes: refused) while many requests run: none may fail. Run with -race.
func TestGatewayRetriesUnderLoad(t *testing.T) {
	a, c := echoBackend(t, "a"), echoBackend(t, "c")
	victim := echoBackend(t, "b")
	rt := Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{
		{ID: "a", Addr: addrOf(a)}, {ID: "b", Addr: addrOf(victim)}, {ID: "c", Addr: addrOf(c)}}}
	var retried, total atomic.Int32
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) {
		total.Add(1)
		if ri.Attempts > 1 {
			retried.Add(1)
		}
	}}, rt)
	client := newClient(t)

	const workers, each = 8, 60
	var wg sync.WaitGroup
	var once sync.Once
	var sent atomic.Int32
	for range workers {
		wg.Go(func() {
			for range each {
				if sent.Add(1) == workers*each/3 {
					// Like docker kill: the listener and every open
					// keep-alive connection go away at once.
					once.Do(func() { victim.Listener.Close(); victim.CloseClientConnections() })
				}
				req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
				req.Host = testHost
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d requests retried", retried.Load(), total.Load())
	if retried.Load() == 0 {
		t.Fatal("no request was retried: the instance was not killed under load")
	}
}

func TestGatewayRetriesResetBeforeResponse(t *testing.T) {
	reset := newResettingBackend(t, true)
	echo := echoBackend(t, "b")
	rt := Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{
		{ID: "reset", Addr: reset.addr}, {ID: "b", Addr: addrOf(echo)}}}
	infos := make(infoSink, 1)
	_, front := newTestGateway(t, Config{OnRequest: infos.put}, rt)

	resp, body := send(t, newClient(t), http.MethodGet, front.URL+"/x", nil,
		http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if reset.hits.Load() != 1 {
		t.Fatalf("the resetting instance got %d requests, want the first attempt", reset.hits.Load())
	}
	ri := infos.next(t)
	if ri.Attempts != 2 || ri.BackendID != "b" || ri.Status != http.StatusOK {
		t.Fatalf("RequestInfo = %+v, want 2 attempts answered by b", ri)
	}

	// Both attempts carried the same forwarding headers and request id,
	// and the client got that id back.
	s := decodeSeen(t, body)
	reset.mu.Lock()
	first := reset.last
	reset.mu.Unlock()
	for _, h := range []string{"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if got, want := s.Header.Values(h), first.Values(h); strings.Join(got, "|") != strings.Join(want, "|") || len(got) == 0 {
			t.Errorf("%s: retry sent %q, first attempt %q", h, got, want)
		}
	}
	if got := resp.Header.Get("X-Request-Id"); got != s.Header.Get("X-Request-Id") || got != ri.RequestID {
		t.Errorf("response X-Request-Id %q, backend saw %q, logged %q", got, s.Header.Get("X-Request-Id"), ri.RequestID)
	}
}

// TestGatewayRetryRules sends one request to a route whose first backend
// fails it and whose second answers, and checks when the gateway retries.
func TestGatewayRetryRules(t *testing.T) {
	const upload = "the body of the request"
	tests := []struct {
		name    string
		method  string
		body    func() io.Reader
		refused bool // first backend refuses; otherwise it resets after reading
		retry   bool
		expect  bool // send Expect: 100-continue; the first backend resets before the body
	}{
		{"GET reset", http.MethodGet, nil, false, true, false},
		{"HEAD reset", http.MethodHead, nil, false, true, false},
		{"OPTIONS reset", http.MethodOptions, nil, false, true, false},
		{"POST with body reset", http.MethodPost, func() io.Reader { return strings.NewReader(upload) }, false, false, false},
		{"PUT with body reset", http.MethodPut, func() io.Reader { return strings.NewReader(upload) }, false, false, false},
		{"POST without body reset", http.MethodPost, nil, false, false, false},
		{"DELETE reset", http.MethodDelete, nil, false, false, false},
		{"GET refused", http.MethodGet, nil, true, true, false},
		{"POST with body refused", http.MethodPost, func() io.Reader { return strings.NewReader(upload) }, true, true, false},
		{"POST chunked body refused", http.MethodPost, func() io.Reader { return io.MultiReader(strings.NewReader(upload)) }, true, true, false},
		{"DELETE refused", http.MethodDelete, nil, true, true, false},
		// The headers were sent, the body not yet: still not replayable.
		{"POST with body reset before the body", http.MethodPost, func() io.Reader { return strings.NewReader(upload) }, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := Backend{ID: "first"}
			var reset *resettingBackend
			if tt.refused {
				first.Addr = refusedAddr(t)
			} else {
				reset = newResettingBackend(t, !tt.expect)
				first.Addr = reset.addr
			}
			echo, echoHits := countingBackend(t, "b")
			infos := make(infoSink, 1)
			_, front := newTestGateway(t, Config{OnRequest: infos.put},
				Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{first, {ID: "b", Addr: addrOf(echo)}}})

			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			var header http.Header
			if tt.expect {
				header = http.Header{"Expect": {"100-continue"}}
			}
			resp, respBody := send(t, newClient(t), tt.method, front.URL, body, header)
			ri := infos.next(t)
			if reset != nil && reset.hits.Load() != 1 {
				t.Fatalf("first backend got %d requests, want 1", reset.hits.Load())
			}
			if !tt.retry {
				if tt.method != http.MethodHead {
					errorResponse(t, resp, respBody, http.StatusBadGateway)
				} else if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d, want 502", resp.StatusCode)
				}
				if n := echoHits.Load(); n != 0 || ri.Attempts != 1 || ri.BackendID != "first" {
					t.Fatalf("retried: second backend got %d requests; RequestInfo %+v", n, ri)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || echoHits.Load() != 1 || ri.Attempts != 2 || ri.BackendID != "b" {
				t.Fatalf("status %d, second backend got %d requests, RequestInfo %+v; want a retry on b: %s",
					resp.StatusCode, echoHits.Load(), ri, respBody)
			}
			if tt.body != nil {
				if s := decodeSeen(t, respBody); s.Body != upload || s.Method != tt.method {
					t.Fatalf("retry sent %s %q, want %s %q", s.Method, s.Body, tt.method, upload)
				}
			}
		})
	}
}

// countingFailover wraps RoundRobin and checks the contract with the
// gateway: one release per successful acquire, never two backends held
// at once, each attempt on a backend not tried before.
type countingFailover struct {
	t        *testing.T
	rr       Failover
	acquired atomic.Int32
	released atomic.Int32
	held     atomic.Int32
	failed   atomic.Int32
	mu       sync.Mutex
	backends []string
}

func (c *countingFailover) wrap(b Backend, err error) (Backend, func(), error) {
	if err != nil {
		return b, nil, err
	}
	if c.held.Add(1) != 1 {
		c.t.Errorf("acquired %s while holding another backend", b.ID)
	}
	c.acquired.Add(1)
	c.mu.Lock()
	c.backends = append(c.backends, b.ID)
	c.mu.Unlock()
	var once atomic.Bool
	return b, func() {
		if once.Swap(true) {
			c.t.Errorf("release of %s called twice", b.ID)
		}
		c.held.Add(-1)
		c.released.Add(1)
	}, nil
}

func (c *countingFailover) Acquire(ctx context.Context, r *Route) (Backend, func(), error) {
	b, _, err := c.rr.Acquire(ctx, r)
	return c.wrap(b, err)
}

func (c *countingFailover) AcquireExcept(ctx context.Context, r *Route, tried []Backend) (Backend, func(), error) {
	b, _, err := c.rr.AcquireExcept(ctx, r, tried)
	return c.wrap(b, err)
}

func (c *countingFailover) Failed(r *Route, b Backend) {
	c.failed.Add(1)
	c.rr.Failed(r, b)
}

func TestGatewayAllInstancesDead(t *testing.T) {
	tests := []struct {
		name        string
		dead        int
		plain       bool // Upstreams without Failover
		wantAttempt int
	}{
		{"three dead", 3, false, 3},
		{"five dead: at most 3 attempts", 5, false, 3},
		{"two dead: each tried once", 2, false, 2},
		{"one dead: no retry", 1, false, 1},
		{"three dead, plain Upstreams", 3, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := Route{Host: testHost, Stack: "hello", Stage: "dev"}
			for i := range tt.dead {
				rt.Backends = append(rt.Backends, Backend{ID: fmt.Sprint("dead-", i), Addr: refusedAddr(t)})
			}
			c := &countingFailover{t: t, rr: newBalancer(byRoundRobin, time.Minute)}
			var up Upstreams = c
			if tt.plain {
				up = upstreamsFunc(c.Acquire)
			}
			infos := make(infoSink, 1)
			_, front := newTestGateway(t, Config{Upstreams: up, OnRequest: infos.put}, rt)

			resp, body := send(t, newClient(t), http.MethodGet, front.URL, nil, nil)
			if code, _ := errorResponse(t, resp, body, http.StatusBadGateway); code != CodeBadGateway {
				t.Fatalf("code = %q, want %q", code, CodeBadGateway)
			}
			ri := infos.next(t)
			if ri.Attempts != tt.wantAttempt || int(c.acquired.Load()) != tt.wantAttempt {
				t.Fatalf("%d attempts, %d acquires; want %d", ri.Attempts, c.acquired.Load(), tt.wantAttempt)
			}
			if a, r := c.acquired.Load(), c.released.Load(); a != r {
				t.Fatalf("acquired %d, released %d", a, r)
			}
			c.mu.Lock()
			tried := c.backends
			c.mu.Unlock()
			if ri.BackendID != tried[len(tried)-1] {
				t.Fatalf("RequestInfo.BackendID = %q, want the last tried of %v", ri.BackendID, tried)
			}
			if !tt.plain {
				if int(c.failed.Load()) != tt.wantAttempt {
					t.Fatalf("Failed called %d times, want once per attempt", c.failed.Load())
				}
				seen := map[string]bool{}
				for _, id := range tried {
					if seen[id] {
						t.Fatalf("backend %s tried twice: %v", id, tried)
					}
					seen[id] = true
				}
			}
		})
	}
}

func TestGatewayNoRetryOnceResponseStarted(t *testing.T) {
	tests := []struct {
		name     string
		response string
	}{
		// Headers and part of the body, then the instance dies: the
		// client gets a truncated response, as without retries.
		{"body truncated", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial"},
		// A 103 Early Hints was forwarded: the backend answered.
		{"after 1xx", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dying := tcpBackend(t, func(conn net.Conn) {
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				_, _ = io.WriteString(conn, tt.response)
				_ = conn.(*net.TCPConn).SetLinger(0)
			})
			echo, echoHits := countingBackend(t, "b")
			infos := make(infoSink, 1)
			_, front := newTestGateway(t, Config{OnRequest: infos.put},
				Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "dying", Addr: dying}, {ID: "b", Addr: addrOf(echo)}}})

			req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
			req.Host = testHost
			resp, err := newClient(t).Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			ri := infos.next(t)
			if echoHits.Load() != 0 || ri.Attempts != 1 || ri.BackendID != "dying" {
				t.Fatalf("retried after the response started: RequestInfo %+v, second backend got %d", ri, echoHits.Load())
			}
			if strings.HasPrefix(tt.response, "HTTP/1.1 200") {
				if err == nil || ri.Status != http.StatusOK {
					t.Fatalf("client read the whole body (err %v), status %d; want a truncated 200", err, ri.Status)
				}
			} else if err != nil || resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("got %v, %v; want a 502", resp, err)
			}
		})
	}
}

func TestGatewayNoRetryOnTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	echo, echoHits := countingBackend(t, "b")
	infos := make(infoSink, 1)
	_, front := newTestGateway(t, Config{ResponseHeaderTimeout: 100 * time.Millisecond, OnRequest: infos.put},
		Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "slow", Addr: addrOf(slow)}, {ID: "b", Addr: addrOf(echo)}}})
	resp, body := send(t, newClient(t), http.MethodGet, front.URL, nil, nil)
	errorResponse(t, resp, body, http.StatusGatewayTimeout)
	if ri := infos.next(t); ri.Attempts != 1 || echoHits.Load() != 0 {
		t.Fatalf("a slow instance's request was retried: %+v", ri)
	}
}

func TestConnFailure(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("read: connection reset by peer")}
	tests := []struct {
		name                string
		err                 error
		failed, nothingSent bool
	}{
		{"dial refused", dial, true, true},
		{"dial timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, true, true},
		{"reset", read, true, false},
		{"eof", io.EOF, true, false},
		{"wrapped eof", fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", io.ErrUnexpectedEOF), true, false},
		{"header timeout", timeoutErr{}, false, false},
		{"canceled", context.Canceled, false, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false, false},
		{"malformed", errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header`), false, false},
	}
	for _, tt := range tests {
		if f, n := connFailure(tt.err); f != tt.failed || n != tt.nothingSent {
			t.Errorf("%s: connFailure = %v, %v; want %v, %v", tt.name, f, n, tt.failed, tt.nothingSent)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
