package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// oneShotBackend answers one request per connection, keep-alive in its
// response, then closes the connection: what a backend that closes idle
// connections looks like to a pool.
func oneShotBackend(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	return scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		msg := fmt.Sprintf("%s %s", req.Method, body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	})
}

// A POST may not be sent again once a backend may have seen it, so a
// pooled connection the backend closed while idle must be noticed before
// the POST goes out on it, not after.
func TestForwarderChecksIdleConnections(t *testing.T) {
	addr, conns := oneShotBackend(t)
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	client := newClient(t)
	for i := range 2 {
		if i > 0 {
			time.Sleep(200 * time.Millisecond) // the backend's close arrives
		}
		req, _ := http.NewRequest(http.MethodPost, front.URL, strings.NewReader("hello"))
		req.Host = testHost
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "POST hello" {
			t.Fatalf("POST %d: status %d, body %q", i, resp.StatusCode, body)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("backend saw %d connections, want 2", n)
	}
}

// A GET on a pooled connection found closed only when the request was
// sent is sent again on a new connection, as http.Transport does.
func TestForwarderReplaysIdempotentOnClosedConnection(t *testing.T) {
	addr, conns := oneShotBackend(t)
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	client := newClient(t)
	for i := range 3 {
		resp, body := get(t, client, front.URL, testHost, nil)
		if resp.StatusCode != http.StatusOK || string(body) != "GET " {
			t.Fatalf("GET %d: status %d, body %q", i, resp.StatusCode, body)
		}
	}
	if n := conns.Load(); n < 3 {
		t.Fatalf("backend saw %d connections, want a new one per request", n)
	}
}

// Requests on a keep-alive backend reuse one connection.
func TestForwarderPoolsConnections(t *testing.T) {
	var conns atomic.Int32
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	backend.Start()
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	client := newClient(t)
	for range 20 {
		if resp, _ := get(t, client, front.URL, testHost, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("backend saw %d connections for 20 sequential requests, want 1", n)
	}
}

// 103 Early Hints reach the client before the final response, and their
// headers do not leak into it.
func TestForwarderForwardsEarlyHints(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	hints, err := http.ReadResponse(br, nil)
	if err != nil || hints.StatusCode != http.StatusEarlyHints || hints.Header.Get("Link") == "" {
		t.Fatalf("first response: %v %+v", err, hints)
	}
	final, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(final.Body)
	if final.StatusCode != http.StatusOK || string(body) != "final" || final.Header.Get("Link") != "" {
		t.Fatalf("final: %d %q, Link %q", final.StatusCode, body, final.Header.Get("Link"))
	}
}

// A route timeout that fires while the body streams ends the response
// (the client sees it cut), and the backend connection is not reused.
func TestForwarderTimeoutMidBody(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(backend.Close)
	rt := route(testHost, backend)
	rt.Timeout = 200 * time.Millisecond
	_, front := newTestGateway(t, Config{}, rt)
	req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
	req.Host = testHost
	start := time.Now()
	// The response may be cut before its head was flushed (a known
	// length is not streamed) or during the body: never complete.
	resp, err := newClient(t).Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a body cut by the timeout read as complete")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

func TestForwardable(t *testing.T) {
	mk := func(method string, cl int64, h http.Header) *http.Request {
		r := httptest.NewRequest(method, "/", nil)
		r.ContentLength = cl
		if h != nil {
			r.Header = h
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"GET", mk("GET", 0, nil), true},
		{"small POST", mk("POST", 100, nil), true},
		{"largest body", mk("POST", fastBodyMax, nil), true},
		{"large body", mk("POST", fastBodyMax+1, nil), false},
		{"unknown length", mk("POST", -1, nil), false},
		{"websocket", mk("GET", 0, http.Header{"Upgrade": {"websocket"}}), false},
		{"expect", mk("PUT", 10, http.Header{"Expect": {"100-continue"}}), false},
	} {
		if got := forwardable(c.r); got != c.want {
			t.Errorf("%s: forwardable = %v, want %v", c.name, got, c.want)
		}
	}
}

// scriptedBackend serves every connection with serve, which reads and
// answers requests on it as it likes (bytes a net/http server would not
// send). conns counts the connections accepted.
func scriptedBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String(), conns
}

// A backend that sends more than its response (a body on a HEAD answer,
// a common bug) leaves bytes on the connection that are no response to
// anything: the connection must not be pooled, or the next request on
// it, maybe another client's, reads them as its response.
func TestForwarderDropsConnectionWithBytesAfterResponse(t *testing.T) {
	addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == http.MethodHead {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
			} else {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
			}
		}
	})
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	client := newClient(t)
	req, _ := http.NewRequest(http.MethodHead, front.URL, nil)
	req.Host = testHost
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: status %d", resp.StatusCode)
	}
	resp, body := get(t, client, front.URL, testHost, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "second" {
		t.Fatalf("GET after HEAD: status %d, body %q", resp.StatusCode, body)
	}
}

// A pooled connection the backend reset (not just closed) fails when the
// next request is written, not read. The request goes again on a new
// connection to the same instance, which is not blamed for it.
func TestForwarderReplaysWhenWriteFailsOnResetConnection(t *testing.T) {
	reset := make(chan struct{})
	var first atomic.Bool
	addr, conns := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		resetThis := first.CompareAndSwap(false, true)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if resetThis {
				<-reset
				c.(*net.TCPConn).SetLinger(0) // close with RST
				return
			}
		}
	})
	infos := make(chan RequestInfo, 2)
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infos <- ri }},
		Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addr}}})
	client := newClient(t)
	if resp, _ := get(t, client, front.URL, testHost, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first GET: status %d", resp.StatusCode)
	}
	<-infos
	close(reset)
	time.Sleep(100 * time.Millisecond) // the RST arrives
	resp, body := get(t, client, front.URL, testHost, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("GET on reset connection: status %d, body %q", resp.StatusCode, body)
	}
	if ri := <-infos; ri.Attempts != 1 {
		t.Fatalf("attempts %d, want 1 (a dead pooled connection is no failed attempt)", ri.Attempts)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("backend saw %d connections, want 2", n)
	}
}

// A request whose context ends as its response ends leaves its
// connection out of the pool even when the cancel hook has only started:
// its deadline would otherwise land on the connection's next request.
func TestForwarderNeverPoolsConnectionOfCanceledRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	g := New(Config{})
	t.Cleanup(g.CloseIdleConnections)
	addr := ln.Addr().String()
	for i := range 50 {
		uc, err := g.fwd.dial(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		uc.watch(ctx) // the hook is started, maybe not yet run
		rec := httptest.NewRecorder()
		x := &exchange{w: rec, route: &Route{}, requestID: []string{"id"}}
		res := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
		g.respond(x, x, httptest.NewRequest(http.MethodGet, "/", nil), uc, res)
		g.fwd.mu.Lock()
		n := len(g.fwd.idle[addr])
		g.fwd.mu.Unlock()
		if n != 0 {
			t.Fatalf("round %d: the connection of a canceled request was pooled", i)
		}
	}
}

// Idle connections to an instance that gets no more traffic (replaced by
// a deploy, say) are closed once past the idle timeout, on traffic to
// any other: the pool holds them nowhere else.
func TestForwarderClosesIdleConnectionsOfQuietBackends(t *testing.T) {
	listen := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().String()
	}
	gone, busy := listen(), listen()
	f := newForwarder(time.Second, time.Second)
	t.Cleanup(f.closeIdle)
	var old []*upstreamConn
	for range 3 {
		uc, err := f.dial(context.Background(), gone)
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, uc)
	}
	for _, uc := range old {
		f.put(uc)
	}
	f.mu.Lock()
	for _, uc := range f.idle[gone] {
		uc.idleAt = uc.idleAt.Add(-idleConnTimeout)
	}
	f.nextSweep = time.Time{}
	f.mu.Unlock()
	uc, err := f.dial(context.Background(), busy)
	if err != nil {
		t.Fatal(err)
	}
	f.put(uc)
	f.mu.Lock()
	left, kept := len(f.idle[gone]), len(f.idle[busy])
	_, hasKey := f.idle[gone]
	f.mu.Unlock()
	if left != 0 || hasKey || kept != 1 {
		t.Fatalf("after the idle timeout: %d idle to the quiet backend (key kept: %v), %d to the busy one; want 0, false, 1", left, hasKey, kept)
	}
	for i, uc := range old {
		if _, err := uc.conn.Write([]byte("x")); err == nil {
			t.Fatalf("stale connection %d still open", i)
		}
	}
}

// A route's timeout bounds a client that stops sending a small body
// halfway: the request ends in a 504 (the instance is released), not
// whenever the client gives up.
func TestForwarderTimeoutWhileReadingBody(t *testing.T) {
	backend := echoBackend(t, "a")
	rt := route(testHost, backend)
	rt.Timeout = 200 * time.Millisecond
	_, front := newTestGateway(t, Config{}, rt)
	c := dialFront(t, front)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\nonly ten b", testHost)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response while the body stalls: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want 504: %s", resp.StatusCode, b)
	}
}

// A status under 100 ("099" parses) is no 1xx: it is answered as an
// invalid response, not handed to WriteHeader, which panics on it (and
// the panic would leave the backend connection open), by the forwarder
// and by ReverseProxy (a body without a length).
func TestGatewayRejectsStatusBelow100(t *testing.T) {
	addr := rawBackend(t, "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n")
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	for _, raw := range []string{
		crlf("GET / HTTP/1.1", "Host: "+testHost, "", ""),
		crlf("POST / HTTP/1.1", "Host: "+testHost, "Transfer-Encoding: chunked", "", "2", "hi", "0", "", ""),
	} {
		resp, _ := rawRoundTrip(t, front.Listener.Addr().String(), raw)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%q: status %d, want 502", raw, resp.StatusCode)
		}
	}
}

// An Idempotency-Key the client lists in Connection is dropped before the
// backend sees it, so it cannot make the request safe to send again.
func TestIdempotent(t *testing.T) {
	for _, c := range []struct {
		method string
		header http.Header
		want   bool
	}{
		{"GET", nil, true},
		{"HEAD", nil, true},
		{"OPTIONS", nil, true},
		{"POST", nil, false},
		{"DELETE", nil, false},
		{"POST", http.Header{"Idempotency-Key": {"k"}}, true},
		{"PUT", http.Header{"X-Idempotency-Key": {"k"}}, true},
		{"POST", http.Header{"Idempotency-Key": {"k"}, "Connection": {"close, idempotency-key"}}, false},
		{"POST", http.Header{"X-Idempotency-Key": {"k"}, "Connection": {"X-Idempotency-Key"}}, false},
		{"POST", http.Header{"Idempotency-Key": {"k"}, "Connection": {"keep-alive"}}, true},
	} {
		r := httptest.NewRequest(c.method, "/", nil)
		r.Header = c.header
		if r.Header == nil {
			r.Header = http.Header{}
		}
		if got := idempotent(r); got != c.want {
			t.Errorf("%s %v: idempotent = %v, want %v", c.method, c.header, got, c.want)
		}
	}
}

// Bytes a backend sends on a connection after its response has been read
// (a second response, written late) are no answer to the next request:
// a pooled connection with bytes waiting is not reused, however briefly
// it idled (it was not peeked at under a second idle), or every later response on it would go to the request after
// the one it answers, another client's maybe.
func TestForwarderDropsConnectionWithLateBytes(t *testing.T) {
	addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
			if n == 0 {
				time.Sleep(20 * time.Millisecond)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
			}
		}
	})
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	client := newClient(t)
	if resp, body := get(t, client, front.URL, testHost, nil); resp.StatusCode != http.StatusOK || string(body) != "fresh" {
		t.Fatalf("first GET: %d %q", resp.StatusCode, body)
	}
	time.Sleep(100 * time.Millisecond) // the late bytes arrive
	if resp, body := get(t, client, front.URL, testHost, nil); resp.StatusCode != http.StatusOK || string(body) != "fresh" {
		t.Fatalf("second GET got %d %q, the answer to the first", resp.StatusCode, body)
	}
}

// A write that fails on a reused connection (reset by the backend after
// the peek) counts no byte of a response read, whatever the previous
// response on it read: roundTrip may then send the request again on a
// new connection.
func TestForwarderWriteFailureReadsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dialed := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		<-dialed
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // RST
	}()
	f := newForwarder(time.Second, time.Second)
	uc, err := f.dial(context.Background(), ln.Addr().String())
	close(dialed)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.close()
	uc.reused, uc.lr.read = true, 120  // the previous response's bytes
	time.Sleep(100 * time.Millisecond) // the RST arrives
	x := &exchange{route: &Route{}, requestID: []string{"id"}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	var werr error
	for range 3 { // the first write after a RST may still be accepted
		if _, werr = f.exchange(uc, x, r, nil, false); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Fatal("no error on a reset connection")
	}
	if uc.lr.read != 0 || !closedBeforeResponse(werr) {
		t.Fatalf("after %v: read %d, closedBeforeResponse %v; want 0, true", werr, uc.lr.read, closedBeforeResponse(werr))
	}
}
