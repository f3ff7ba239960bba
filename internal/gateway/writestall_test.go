package gateway

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// streamingBackend answers with an endless body and reports, on the
// channel it returns, the error that ended its writes: the gateway
// closed its connection.
func streamingBackend(t *testing.T) (*httptest.Server, <-chan error) {
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ended
}

// backendCut waits for the backend's writes to end, the gateway having
// closed its connection, and fails the test if that takes 10 s: the
// gateway still writes to what, which has read nothing for that long.
func backendCut(t *testing.T, ended <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ended:
		t.Logf("backend's write ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the gateway still writes to %s that has read nothing for 10s", what)
	}
}

// dialSmallBuffer dials the gateway with a small receive buffer, so that
// a client that does not read stalls the gateway's writes soon.
func dialSmallBuffer(t *testing.T, front *httptest.Server) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
	}}
	c, err := d.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stallingClient serves the gateway with one route, whose idle timeout
// is idle, to streamingBackend, and returns a client connection to it
// with a small receive buffer, and the backend's channel.
func stallingClient(t *testing.T, idle time.Duration) (net.Conn, <-chan error) {
	t.Helper()
	backend, ended := streamingBackend(t)
	rt := route(testHost, backend)
	rt.IdleTimeout = idle
	_, front := newTestGateway(t, Config{}, rt)
	return dialSmallBuffer(t, front), ended
}

// A client that stops reading its response has its connection closed
// after about the route's idle timeout (between one and three times it), and
// the backend's connection goes with it, as an ALB's idle timeout would
// close both.
func TestClientThatStopsReadingIsCut(t *testing.T) {
	c, ended := stallingClient(t, 200*time.Millisecond)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	backendCut(t, ended, "a client")
	// What the socket buffers held is still there; then the connection ends.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("client's connection still open after reading %d bytes", n)
	}
}

// smallSendBuffers sets a small send buffer on the gateway's client
// connections, so that a slow client holds up its writes.
func smallSendBuffers(ln net.Listener) net.Listener { return smallSendListener{ln} }

type smallSendListener struct{ net.Listener }

func (l smallSendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// The bound is on progress, not on a write or the response: a client
// that reads slowly but steadily gets the whole body, though a 32 KB
// write to it takes longer than the idle timeout and the response many
// of them.
func TestSlowReaderGetsWholeBody(t *testing.T) {
	const size = 128 << 10
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := make([]byte, 32<<10)
		for range size / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	rt := route(testHost, backend)
	rt.IdleTimeout = 400 * time.Millisecond
	g := New(Config{})
	g.Update(NewRouteTable([]Route{rt}))
	front := serveTestGatewayOn(t, g, smallSendBuffers)
	c := dialSmallBuffer(t, front)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	br := bufio.NewReaderSize(c, 1<<10)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	buf := make([]byte, 4<<10)
	var got int
	for {
		n, err := res.Body.Read(buf)
		got += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes in %v: %v", got, size, time.Since(start), err)
		}
		time.Sleep(100 * time.Millisecond) // about 40 KB/s at most: 32 KB take 0.8 s
	}
	if got != size {
		t.Fatalf("got %d bytes, want %d", got, size)
	}
	if took := time.Since(start); took < 5*rt.IdleTimeout {
		t.Fatalf("read in %v: too fast to show that a response may outlast the idle timeout", took)
	}
}

// A connection's bound follows the idle timeout of the route it serves:
// one set under a longer idle timeout (an unknown host's 60 s) gives way
// to the next request's shorter one.
func TestStalledClientCutAfterShorterIdleTimeout(t *testing.T) {
	c, ended := stallingClient(t, 200*time.Millisecond)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: nowhere.localhost\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown host: %d, want 404", res.StatusCode)
	}
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
	backendCut(t, ended, "a client")
}

// writeBound sets a deadline at the first write and again only when
// less than the idle timeout is left of it; a deadline its user sets
// stays until cleared, and clearing it leaves the bound's.
func TestWriteBoundSetsDeadlineLazily(t *testing.T) {
	const d = time.Second
	var b writeBound
	c := &deadlineConn{}
	t0 := time.Now()
	b.before(c, d)
	if len(c.writes) != 1 || c.writes[0].Before(t0.Add(d+d/2)) || c.writes[0].After(time.Now().Add(d+d/2)) {
		t.Fatalf("first write: deadlines %v, want one %v after it", c.writes, d+d/2)
	}
	b.before(c, d)
	if len(c.writes) != 1 {
		t.Fatalf("second write at once: deadlines %v, want still one", c.writes)
	}
	time.Sleep(d/2 + 10*time.Millisecond)
	b.before(c, d)
	if len(c.writes) != 2 {
		t.Fatalf("write with less than %v left: deadlines %v, want a second", d, c.writes)
	}

	past := time.Unix(1, 0)
	b.setWriteDeadline(c, past)
	b.before(c, d)
	if len(c.writes) != 3 || !c.writes[2].Equal(past) {
		t.Fatalf("after the user's deadline: %v, want it last and kept", c.writes)
	}
	b.setWriteDeadline(c, time.Time{})
	if len(c.writes) != 4 || !c.writes[3].IsZero() {
		t.Fatalf("user's deadline cleared: %v, want it cleared on the connection", c.writes)
	}
	b.before(c, d)
	if len(c.writes) != 5 || c.writes[4].IsZero() {
		t.Fatalf("write after the clear: %v, want the bound set again", c.writes)
	}
	b.setWriteDeadline(c, time.Time{}) // net/http after every request
	if len(c.writes) != 5 {
		t.Fatalf("clearing with no user's deadline: %v, want the bound's kept", c.writes)
	}
	b.before(c, d/4)
	if len(c.writes) != 6 || time.Until(c.writes[5]) > d/4+d/8 {
		t.Fatalf("write under a shorter idle timeout: %v, want a deadline about %v away", c.writes, d/4+d/8)
	}
}

// A write that times out having written part of its bytes goes on with
// the rest; one that wrote nothing, or ran into its user's deadline,
// ends.
func TestWriteBoundGoesOnAfterProgress(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	var b writeBound
	go func() { // takes 10 bytes every 50 ms, for longer than a deadline, then nothing
		buf := make([]byte, 10)
		for range 12 {
			time.Sleep(50 * time.Millisecond)
			if _, err := io.ReadFull(client, buf); err != nil {
				return
			}
		}
	}()
	n, err := b.write(server, make([]byte, 200), 300*time.Millisecond) // deadlines 450 ms apart
	if n != 120 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wrote %d, %v; want 120 written, then a timeout", n, err)
	}

	b.setWriteDeadline(server, time.Unix(1, 0)) // the user's, in the past
	if n, err := b.write(server, []byte("x"), time.Hour); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("under the user's deadline: %d, %v; want a timeout", n, err)
	}
}

// A WebSocket client that stops reading while its backend keeps sending
// is cut off the same way, with the backend's connection.
func TestWebsocketClientThatStopsReadingIsCut(t *testing.T) {
	ended := make(chan error, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			ended <- err
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-Websocket-Key")))
		msg := make([]byte, 32<<10)
		for {
			if err := wsWrite(brw, wsBinary, msg, false); err != nil {
				ended <- err
				return
			}
			if err := brw.Flush(); err != nil {
				ended <- err
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	rt := route(testHost, backend)
	rt.IdleTimeout = 200 * time.Millisecond
	_, front := newTestGateway(t, Config{}, rt)
	c := dialSmallBuffer(t, front)
	fmt.Fprint(c, crlf("GET /feed HTTP/1.1", "Host: "+testHost, "Connection: Upgrade", "Upgrade: websocket",
		"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "", ""))
	backendCut(t, ended, "a WebSocket client")
}

// getOverHTTP2 serves the gateway over HTTPS as the server does, with
// one route to backend whose idle timeout is idle, and GETs path from it
// over HTTP/2. The response's body is closed when the test ends.
func getOverHTTP2(t *testing.T, backend *httptest.Server, idle time.Duration, path string) *http.Response {
	t.Helper()
	g := New(Config{})
	rt := route(testHost, backend)
	rt.IdleTimeout = idle
	g.Update(NewRouteTable([]Route{rt}))
	t.Cleanup(g.CloseIdleConnections)
	addr, _, roots := strictFront(t, g, true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: testHost}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	req.Host = testHost
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", res.Proto)
	}
	return res
}

// On HTTP/2 a client stalls a stream through flow control, not its
// connection: a client that reads nothing of a body gets its stream
// reset once a write to it has waited for the route's idle timeout, and
// the backend's connection is closed.
func TestHTTP2ClientThatStopsReadingIsCut(t *testing.T) {
	backend, ended := streamingBackend(t)
	res := getOverHTTP2(t, backend, 200*time.Millisecond, "/big")
	backendCut(t, ended, "an HTTP/2 stream")
	// The stream was reset: what the client's window held, then an error.
	if _, err := io.Copy(io.Discard, res.Body); err == nil {
		t.Fatal("the body ended cleanly; want the stream reset")
	}
}

// An HTTP/2 stream's deadline is a timer, not a bound on a pending
// write: a stream whose backend pauses for longer than the idle timeout
// (server-sent events between heartbeats, say) is not reset while its
// client reads everything.
func TestHTTP2QuietStreamIsNotReset(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(time.Second) // more than 1.5 idle timeouts
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(backend.Close)
	res := getOverHTTP2(t, backend, 300*time.Millisecond, "/events")
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "data: one\n\ndata: two\n\n" {
		t.Fatalf("body %q, %v; want both events", body, err)
	}
}
