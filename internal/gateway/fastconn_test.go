package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A chunked response framed in a way net/http's chunked reader refuses
// (a chunk or trailer line ended by a bare LF, a stray CR, leading
// whitespace or a chunk line over 4 KiB; a trailer section ended by a
// line that is no empty line, or a malformed trailer line) must not be relayed as a complete
// response on a connection that stays open: the fast path relays chunk
// lines and trailers as the backend sent them, so a client or a proxy in
// front that reads them differently would take the bytes of the next
// response for this one's. The net/http path aborts such a response;
// the connection must end there on the fast path too.
func TestChunkedResponseWithAmbiguousFramingEndsConnection(t *testing.T) {
	for name, body := range map[string]string{
		"bare LF chunk line":     "5;x\nhello\r\n0\r\n\r\n",
		"bare LF last chunk":     "5\r\nhello\r\n0\n\r\n",
		"CR in chunk extension":  "5;a\rb\r\nhello\r\n0\r\n\r\n",
		"leading space in size":  " 5\r\nhello\r\n0\r\n\r\n",
		"long chunk extension":   "5;" + strings.Repeat("e", 8<<10) + "\r\nhello\r\n0\r\n\r\n",
		"trailer ended by A LF":  "5\r\nhello\r\n0\r\nA\n\r\n",
		"malformed trailer line": "5\r\nhello\r\n0\r\nno colon here\r\n\r\n",
		"bare LF trailer line":   "5\r\nhello\r\n0\r\nX-A: a\n\r\n",
		"trailer with bare CR":   "5\r\nhello\r\n0\r\nX-A: a\rb\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err == nil {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
				}
			})
			_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addr}}})
			c := dialFront(t, front)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				if len(got) > 300 {
					got = got[:300]
				}
				t.Fatalf("the connection stayed open after %q: %v", got, err)
			}
		})
	}
}

// Valid chunked framing, extensions, whitespace at a chunk line's end and
// trailers still relay whole, on a connection that stays open.
func TestChunkedResponseValidFramingKeepsConnection(t *testing.T) {
	addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-B\r\n\r\n"+
				"3;a=b\r\nabc\r\n2\t\r\nde\r\n0;last\r\nX-Sum: 5\r\nX-B: b\r\n\r\n")
		}
	})
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: addr}}})
	c := dialFront(t, front)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "abcde" || resp.Trailer.Get("X-Sum") != "5" || resp.Trailer.Get("X-B") != "b" || resp.Close {
			t.Fatalf("request %d: %q %v, trailers %v, close %v", i, body, err, resp.Trailer, resp.Close)
		}
	}
}

// A byte the client watch read is kept after the bytes read before it.
// When the buffer is full, the bytes not served yet move to a new buffer
// (the request's head may still point into the old one): of the same
// size, since the served ones are left behind. Doubling it instead let a
// client that pipelines while its backend is slow grow the buffer
// without bound, one doubling per request.
func TestStopWatchKeepsBufferSize(t *testing.T) {
	c, peer := net.Pipe()
	defer c.Close()
	defer peer.Close()
	fc := &fastConn{c: c, buf: make([]byte, 4<<10)}
	for i := range 6 {
		fc.w = len(fc.buf)
		fc.r = fc.w - 5
		copy(fc.buf[fc.r:], "abcde")
		w := &clientWatch{done: make(chan struct{}), n: 1}
		w.b[0] = byte('0' + i%10)
		close(w.done)
		fc.stopWatch(w)
		if got, want := string(fc.buf[fc.r:fc.w]), "abcde"+string(w.b[:]); got != want {
			t.Fatalf("round %d: pending %q, want %q", i, got, want)
		}
	}
	if len(fc.buf) != 4<<10 {
		t.Fatalf("buffer grew to %d bytes", len(fc.buf))
	}
}

// Pipelined requests: the answer to the first reaches the client while
// the second waits on its backend, as net/http flushes each response.
// The fast path kept it in the connection's write buffer until it next
// had to read from the client, that is after the second was answered.
func TestPipelinedResponseNotHeldBehindSlowBackend(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(release) })
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	h := "Host: " + testHost + "\r\n"
	io.WriteString(c, "GET /fast HTTP/1.1\r\n"+h+"\r\nGET /slow HTTP/1.1\r\n"+h+"\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got := readResponses(t, bufio.NewReader(c), 1); got[0] != "200 /fast" {
		t.Fatalf("first response %q", got[0])
	}
}

// Nor while the second request's body is still on its way.
func TestPipelinedResponseNotHeldBehindSlowBody(t *testing.T) {
	backend, _ := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	h := "Host: " + testHost + "\r\n"
	big := strings.Repeat("x", 8<<10) // more than the connection's buffer holds
	io.WriteString(c, "GET /1 HTTP/1.1\r\n"+h+"\r\nPOST /2 HTTP/1.1\r\n"+h+"Content-Length: "+strconv.Itoa(len(big)+1)+"\r\n\r\n"+big)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if got := readResponses(t, br, 1); got[0] != "200 a GET /1 " {
		t.Fatalf("first response %q", got[0])
	}
	io.WriteString(c, "!")
	if got := readResponses(t, br, 1); got[0] != "200 a POST /2 "+big+"!" {
		t.Fatalf("second response of %d bytes", len(got[0]))
	}
}

// A head whose lines end in bare LFs, but for the empty line that ends
// it, is net/http's to read (it ends at the first empty line, "\n" or
// "\r\n"): the fast path, which looked only for CRLFCRLF, waited for one
// until the header timeout and closed the connection unanswered.
func TestHeadWithBareLFLinesIsAnswered(t *testing.T) {
	backend, _ := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	for name, head := range map[string]string{
		"all lines":   "GET /x HTTP/1.1\nHost: " + testHost + "\n\r\n",
		"last header": "GET /x HTTP/1.1\r\nHost: " + testHost + "\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := rawRoundTripWithin(t, front.Listener.Addr().String(), head, 5*time.Second)
			if resp.StatusCode != http.StatusOK || string(body) != "a GET /x " {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		})
	}
}

// Of two X-Request-Id headers the first is the request's id, as
// net/http's path takes it (Header["X-Request-Id"][0]).
func TestFirstRequestIDWins(t *testing.T) {
	backend, _ := markedBackend(t, "a")
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	resp, _ := rawRoundTripWithin(t, front.Listener.Addr().String(),
		"GET / HTTP/1.1\r\nHost: "+testHost+"\r\nX-Request-Id: first-id\r\nx-request-id: second-id\r\n\r\n", 5*time.Second)
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "first-id" {
		t.Fatalf("X-Request-Id %q, want first-id", got)
	}
}
