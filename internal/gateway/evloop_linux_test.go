package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// serveFrontend serves g with a Frontend on a new TCP listener, and
// returns both.
func serveFrontend(t *testing.T, g *Gateway) (*Frontend, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := g.NewFrontend(FrontendConfig{})
	done := make(chan error, 1)
	go func() { done <- fe.Serve(ln) }()
	t.Cleanup(func() {
		fe.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Frontend.Serve: %v", err)
		}
		g.CloseIdleConnections()
	})
	return fe, ln.Addr().String()
}

// loopClient serves a route to backend with a Frontend, and connects to
// it.
func loopClient(t *testing.T, backend *httptest.Server) (*Frontend, net.Conn, *bufio.Reader) {
	t.Helper()
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	fe, addr := serveFrontend(t, g)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return fe, c, bufio.NewReader(c)
}

// goroutines is how many of fe's connections goroutines serve.
func (f *Frontend) goroutines() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// The event loops serve GETs themselves; a request they do not take (a
// POST with a body) hands the connection, with the requests read after
// it, to a goroutine, which serves them all in order.
func TestEventLoopsServeAndHandOver(t *testing.T) {
	frontOnly(t)
	if eventLoops() == 0 {
		t.Skip("event loops are off")
	}
	backend, _ := markedBackend(t, "a")
	fe, c, br := loopClient(t, backend)
	h := "Host: " + testHost + "\r\n"
	for i := range 3 {
		fmt.Fprintf(c, "GET /g%d HTTP/1.1\r\n%s\r\n", i, h)
		if got := readResponses(t, br, 1)[0]; got != fmt.Sprintf("200 a GET /g%d ", i) {
			t.Fatalf("GET %d: %q", i, got)
		}
	}
	fe.mu.Lock()
	loops := len(fe.loops)
	fe.mu.Unlock()
	if loops != eventLoops() {
		t.Fatalf("%d event loops, want %d", loops, eventLoops())
	}
	if n := fe.goroutines(); n != 0 {
		t.Fatalf("%d connections served by goroutines after GETs, want 0 (the loops serve them)", n)
	}
	// A POST and a GET in one write: the loop hands both over.
	io.WriteString(c, "POST /p HTTP/1.1\r\n"+h+"Content-Length: 4\r\n\r\nbody"+"GET /after HTTP/1.1\r\n"+h+"\r\n")
	got := readResponses(t, br, 2)
	if got[0] != "200 a POST /p body" || got[1] != "200 a GET /after " {
		t.Fatalf("after the hand-over: %q", got)
	}
	if n := fe.goroutines(); n != 1 {
		t.Fatalf("%d connections served by goroutines after a POST, want 1", n)
	}
}

// A response the loop does not relay itself (chunked) goes, with the
// exchange, to a goroutine mid-way; what the loop read of it is not
// lost, and the connection goes on serving.
func TestEventLoopHandsOverChunkedResponse(t *testing.T) {
	frontOnly(t)
	if eventLoops() == 0 {
		t.Skip("event loops are off")
	}
	fe, c, br := loopClient(t, newChunkedBackend(t))
	for i := range 2 {
		fmt.Fprintf(c, "GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n", testHost)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != strings.Repeat("chunk;", 3) || len(resp.TransferEncoding) == 0 {
			t.Fatalf("response %d: %q %v, transfer encoding %v", i, body, err, resp.TransferEncoding)
		}
	}
	if n := fe.goroutines(); n != 1 {
		t.Fatalf("%d connections served by goroutines, want 1", n)
	}
}

// newChunkedBackend answers with three flushed pieces, chunked.
func newChunkedBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			io.WriteString(w, "chunk;")
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Each running loop has a P of its own on top of GOMAXPROCS (see
// loopProcs), given back when the loops end.
func TestEventLoopsTakePsOfTheirOwn(t *testing.T) {
	frontOnly(t)
	if os.Getenv("GOMAXPROCS") != "" || eventLoops() == 0 {
		t.Skip("GOMAXPROCS is set, or event loops are off")
	}
	base := eventLoops()
	waitProcs := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); runtime.GOMAXPROCS(0) != want; {
			if time.Now().After(deadline) {
				t.Fatalf("GOMAXPROCS %d, want %d", runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitProcs(base) // an earlier test's loops may still be ending
	fe, _ := serveFrontend(t, New(Config{}))
	waitProcs(base + base)
	if n := eventLoops(); n != base {
		t.Fatalf("a second Frontend would run %d loops, want %d", n, base)
	}
	fe.Close()
	waitProcs(base)
}

// Connections are shared among the loops: one that arrives while a loop
// serves more than its share goes to the loop that serves fewest. (The
// listener wakes the first loop waiting on it, so without the shares
// connections opened one after another would all go to one loop.)
func TestEventLoopsShareConnections(t *testing.T) {
	frontOnly(t)
	if eventLoops() == 0 {
		t.Skip("event loops are off")
	}
	t.Setenv("SLIPWAY_EVENT_LOOPS", "3")
	backend, _ := markedBackend(t, "a")
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	fe, addr := serveFrontend(t, g)
	const conns = 30
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /c%d HTTP/1.1\r\nHost: %s\r\n\r\n", i, testHost)
		if got := readResponses(t, bufio.NewReader(c), 1)[0]; got != fmt.Sprintf("200 a GET /c%d ", i) {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
	fe.mu.Lock()
	loops := fe.loops
	fe.mu.Unlock()
	if len(loops) != 3 {
		t.Fatalf("%d loops, want 3", len(loops))
	}
	var loads []int32
	for _, l := range loops {
		loads = append(loads, l.load.Load())
	}
	lo, hi := slices.Min(loads), slices.Max(loads)
	if sum := loads[0] + loads[1] + loads[2]; sum != conns || hi-lo > acceptSlack+1 {
		t.Fatalf("the loops serve %v connections, want %d shared within %d", loads, conns, acceptSlack+1)
	}
}

// A response larger than the socket takes waits for the client, which
// then gets it; the request pipelined after it, which the loop does not
// take, goes to a goroutine from there.
func TestEventLoopHandsOverAfterSlowResponse(t *testing.T) {
	frontOnly(t)
	if eventLoops() == 0 {
		t.Skip("event loops are off")
	}
	big := strings.Repeat("b", 4<<20)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodGet {
			body = []byte(big)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	t.Cleanup(backend.Close)
	fe, c, br := loopClient(t, backend)
	h := "Host: " + testHost + "\r\n"
	io.WriteString(c, "GET /big HTTP/1.1\r\n"+h+"\r\n"+"POST /p HTTP/1.1\r\n"+h+"Content-Length: 4\r\n\r\nbody")
	time.Sleep(100 * time.Millisecond) // the loop fills the socket and waits
	got := readResponses(t, br, 2)
	if got[0] != "200 "+big || got[1] != "200 body" {
		t.Fatalf("got %d and %q", len(got[0]), got[1])
	}
	if n := fe.goroutines(); n != 1 {
		t.Fatalf("%d connections served by goroutines, want 1", n)
	}
}
