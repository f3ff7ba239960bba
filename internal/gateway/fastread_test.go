package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// A waitReader sends, then reads what the peer answers to it.
func TestWaitReaderSendsThenReads(t *testing.T) {
	a, b := tcpPair(t)
	go func() {
		buf := make([]byte, 4)
		if _, err := io.ReadFull(b, buf); err == nil && string(buf) == "ping" {
			b.Write([]byte("pong"))
		}
	}()
	w := newWaitReader(a)
	if w == nil {
		t.Fatal("no waitReader for a TCP connection")
	}
	a.SetDeadline(time.Now().Add(5 * time.Second))
	p := make([]byte, 16)
	n, err := w.read(p, func() error { _, err := a.Write([]byte("ping")); return err }, false)
	if err != nil || string(p[:n]) != "pong" {
		t.Fatalf("read %q, err %v; want pong, nil", p[:n], err)
	}
	// The peer closes once the read has begun, as a backend answers a
	// request sent by send: an EOF that came before it began would not
	// be heard of (that is what peek is for).
	called := false
	n, err = w.read(p, func() error { called = true; return b.Close() }, false)
	if n != 0 || !called || err != io.EOF {
		t.Fatalf("after the peer closed: n %d, send called %v, err %v; want 0, true, EOF", n, called, err)
	}
}

// With peek, bytes that came on the connection before the read began,
// or its close, are found before anything is sent.
func TestWaitReaderPeekFindsStaleConnection(t *testing.T) {
	for name, spoil := range map[string]func(net.Conn){
		"unasked bytes": func(c net.Conn) { c.Write([]byte("HTTP/1.1 200 OK\r\n")) },
		"closed":        func(c net.Conn) { c.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			a, b := tcpPair(t)
			spoil(b)
			time.Sleep(50 * time.Millisecond) // it arrives
			w := newWaitReader(a)
			called := false
			_, err := w.read(make([]byte, 16), func() error { called = true; return nil }, true)
			if !errors.Is(err, errStaleConn) || called {
				t.Fatalf("err %v, send called %v; want errStaleConn, false", err, called)
			}
		})
	}
}

// A read whose deadline had passed never sends.
func TestWaitReaderDeadlinePassedSendsNothing(t *testing.T) {
	a, _ := tcpPair(t)
	a.SetReadDeadline(aLongTimeAgo)
	w := newWaitReader(a)
	called := false
	_, err := w.read(make([]byte, 16), func() error { called = true; return nil }, false)
	if !errors.Is(err, os.ErrDeadlineExceeded) || called {
		t.Fatalf("err %v, send called %v; want a deadline error, false", err, called)
	}
}

// A client that pipelines its next request while the previous one is at
// its backend: the bytes come after the fast path's last read of the
// client and before its waitReader begins, which does not hear of them.
// The sweeper's peek must find them and have them served, well within
// the idle timeout the connection would otherwise wait for.
func TestPipelinedRequestUnheardIsServed(t *testing.T) {
	frontOnly(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			time.Sleep(5 * time.Millisecond) // under watchAfter: no watch reads the client
		}
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	for i := range 5 {
		c := dialFront(t, front)
		h := "Host: " + testHost + "\r\n"
		io.WriteString(c, "GET /a HTTP/1.1\r\n"+h+"\r\n")
		time.Sleep(time.Millisecond) // read alone, before /b comes
		io.WriteString(c, "GET /b HTTP/1.1\r\n"+h+"\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // the idle timeout is 60 s
		got := readResponses(t, bufio.NewReader(c), 2)
		if got[0] != "200 /a" || got[1] != "200 /b" {
			t.Fatalf("try %d: responses %q", i, got)
		}
		c.Close()
	}
}

// Likewise a client that half-closes right after its request: its EOF
// comes unheard of, and the connection must end once the response is
// sent, not at the idle timeout.
func TestHalfCloseUnheardEndsConnection(t *testing.T) {
	frontOnly(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
	time.Sleep(time.Millisecond)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if got := readResponses(t, br, 1); got[0] != "200 ok" {
		t.Fatalf("response %q", got[0])
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the response: %v, want EOF (the gateway closing)", err)
	}
}

// The sweeper's peek at a wait for the next request must come after the
// wait began (after the waitReader's read reset the poller's readiness),
// not merely after readHead noted the wait: bytes that come between an
// early peek and that reset are heard of by neither. Here the serving
// goroutine is held between the two (as a busy machine may hold it for
// a tick or more) by a read of the connection that keeps its read lock,
// and the sweeper (driven by hand) peeks meanwhile; the client's next
// request comes after that peek and before the wait begins.
func TestUnheardPeekAfterTheWaitBegan(t *testing.T) {
	client, server := tcpPair(t)
	f := &Frontend{g: New(Config{}), headerTimeout: ReadHeaderTimeout}
	fc := newFastConn(f, server)
	if fc.cr == nil {
		t.Fatal("no waitReader for a TCP connection")
	}
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	fc.out.WriteString(answer) // the previous request's answer, to be sent as the wait begins

	release := holdReadLock(t, server)

	type result struct{ n, st int }
	done := make(chan result, 1)
	go func() {
		n, st := fc.readHead()
		done <- result{n, st}
	}()
	// readHead notes its wait, then blocks on the read lock.
	for deadline := time.Now().Add(5 * time.Second); ; {
		fc.clock.mu.Lock()
		phase := fc.clock.phase
		fc.clock.mu.Unlock()
		if phase == phaseIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readHead never began its wait")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	// Two ticks pass: the sweeper looks at the connection.
	for range 2 {
		fc.check(f.ticks.Add(1))
	}
	// The client's next request arrives, then the goroutine goes on.
	const next = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(client, next); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // it arrives
	close(release)

	// The sweeper goes on ticking, as it does every 10 ms.
	for range 50 {
		select {
		case r := <-done:
			if r.st != headOK || r.n != len(next) {
				t.Fatalf("readHead: %d bytes, outcome %d; want %d, headOK", r.n, r.st, len(next))
			}
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(answer))
			if _, err := io.ReadFull(client, got); err != nil || string(got) != answer {
				t.Fatalf("client read %q, %v; want the answer", got, err)
			}
			return
		case <-time.After(sweepTick):
			fc.check(f.ticks.Add(1))
		}
	}
	server.Close() // ends readHead
	<-done
	t.Fatal("the request that came before the wait began was never heard of (it would wait for the idle timeout)")
}

// A request too large for the pooled connection's write buffer goes out
// in part or whole as it is written, before the read that would send
// its rest and wait begins, so its response may come before that read:
// it must still be read as the response (not taken for bytes the backend
// sent unasked while the connection was idle, which would send the
// request again on another connection, and a POST must never be). The
// serving goroutine is held before that read by a read of the pooled
// connection that keeps its read lock, as a busy machine may hold it
// (it may also be held before it sends anything, as good).
func TestLargeRequestAnsweredBeforeTheWaitIsNotSentTwice(t *testing.T) {
	frontOnly(t)
	goroutinesOnly(t)
	var posts atomic.Int32
	answered := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		io.WriteString(w, "ok")
		if r.Method == http.MethodPost {
			w.(http.Flusher).Flush()
			answered <- struct{}{}
		}
	}))
	t.Cleanup(backend.Close)
	g, front := newTestGateway(t, Config{}, route(testHost, backend))
	c := dialFront(t, front)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	h := "Host: " + testHost + "\r\n"
	io.WriteString(c, "GET / HTTP/1.1\r\n"+h+"\r\n")
	if got := readResponses(t, br, 1); got[0] != "200 ok" {
		t.Fatalf("first response %q", got[0])
	}
	// Its connection to the backend is pooled: hold its read lock.
	var uc *upstreamConn
	for deadline := time.Now().Add(5 * time.Second); uc == nil; {
		g.fwd.mu.Lock()
		if l := g.fwd.idle[addrOf(backend)]; len(l) == 1 {
			uc = l[0]
		}
		g.fwd.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the connection was not pooled")
		}
		time.Sleep(time.Millisecond)
	}
	release := holdReadLock(t, uc.conn)
	body := strings.Repeat("x", 8000) // over the 4 KiB write buffer
	io.WriteString(c, "POST /p HTTP/1.1\r\n"+h+"Content-Length: 8000\r\n\r\n"+body)
	select {
	case <-answered:
		time.Sleep(20 * time.Millisecond) // the response arrives
	case <-time.After(200 * time.Millisecond):
		// Held before anything of it was sent (a peek first): as
		// good, once released.
	}
	close(release)
	if got := readResponses(t, br, 1); got[0] != "200 ok" {
		t.Fatalf("POST's response %q", got[0])
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("the backend got the POST %d times", n)
	}
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// requestFits is a bound: a request it says fits is not written to the
// connection, in whole or part, before its buffer is flushed. And a
// plain request does fit.
func TestRequestFitsBoundsWriteRequest(t *testing.T) {
	fitted := 0
	for _, extra := range []int{0, 1, 7, 100, 1000, 3000, 3900, 4000} {
		for bodyLen := 0; bodyLen <= 4200; bodyLen += 37 {
			head := "POST /p?q=1 HTTP/1.1\r\nHost: " + testHost + "\r\nAccept: */*\r\n" +
				"X-Long: " + strings.Repeat("v", extra) + "\r\n" +
				"Content-Length: " + strconv.Itoa(bodyLen) + "\r\nConnection: keep-alive\r\n" +
				"X-Forwarded-For: 10.0.0.1\r\nX-Request-Id: abc\r\n\r\n"
			fc := &fastConn{hasPeer: true}
			if !parseHead([]byte(head), &fc.req) {
				t.Fatalf("head not parsed: %q", head)
			}
			fc.x.fwd = [3]string{"192.168.100.200", testHost, "http"}
			fc.x.id[0] = newRequestID()
			fc.x.requestID = fc.x.id[:1:1]
			body := []byte(strings.Repeat("b", bodyLen))
			var cw countingWriter
			bw := bufio.NewWriterSize(&cw, 4<<10)
			fits := fc.requestFits(bw, body)
			fc.writeRequest(bw, body)
			if fits && cw.n > 0 {
				t.Fatalf("extra %d, body %d: fits, but %d bytes were written before the flush", extra, bodyLen, cw.n)
			}
			if fits {
				fitted++
			}
			if extra == 0 && bodyLen == 0 && !fits {
				t.Fatal("a plain request does not fit")
			}
		}
	}
	if fitted == 0 {
		t.Fatal("nothing fitted")
	}
}

// A backend that speaks first on a new connection, then says nothing,
// gets a 502 at once: its greeting is a malformed response. Were it to
// come before a waitReader began, it would not be heard of, and the
// request would wait for the response-header timeout; so the first
// request on a connection is read plainly. (Here the greeting comes
// after the gateway's read began, which the test cannot change: the
// gateway goes from connecting to reading in microseconds.)
func TestBackendSpeakingFirstIsHeard(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	addr, _ := scriptedBackend(t, func(c net.Conn, br *bufio.Reader) {
		io.WriteString(c, "HELLO\r\n")
		<-done
	})
	_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: addr}}})
	resp, _ := rawRoundTripWithin(t, front.Listener.Addr().String(), "GET / HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n", 5*time.Second)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
}

// holdReadLock holds c's read lock, as a read of c in progress does,
// until release is closed: a read the code under test begins on c waits
// before it resets the poller's readiness.
func holdReadLock(t *testing.T, c net.Conn) (release chan struct{}) {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	go raw.Read(func(uintptr) bool {
		close(holding)
		<-release
		return true
	})
	<-holding
	return release
}
