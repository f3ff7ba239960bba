package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGatewayStreamsServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		select { // the second event waits until the client saw the first
		case <-next:
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Second):
		}
		fmt.Fprint(w, "data: two\n\n")
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))

	req, _ := http.NewRequest(http.MethodGet, front.URL+"/events", nil)
	req.Host = testHost
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	start := time.Now()
	first := readEvent(t, br)
	if first != "data: one" {
		t.Fatalf("first event = %q", first)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("first event took %v: the gateway buffered the stream", d)
	}
	close(next)
	if second := readEvent(t, br); second != "data: two" {
		t.Fatalf("second event = %q", second)
	}
}

func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\n" {
		t.Fatalf("event not terminated: %q, %v", blank, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// wsBackend completes a websocket-style upgrade by hand (the standard
// library has no websocket server) and then echoes bytes.
func wsBackend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			fmt.Fprintf(w, "plain upgrade=%q connection=%q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Request-Id: backend-made-this-up\r\n\r\n")
		brw.Flush()
		_, _ = io.Copy(conn, brw.Reader)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGatewayWebsocketUpgrade(t *testing.T) {
	infos := make(chan RequestInfo, 1)
	_, front := newTestGateway(t, Config{OnRequest: func(ri RequestInfo) { infos <- ri }}, route(testHost, wsBackend(t)))

	conn, err := net.Dial("tcp", addrOf(front))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, crlf("GET /ws HTTP/1.1", "Host: "+testHost, "Connection: keep-alive, Upgrade", "Upgrade: websocket",
		"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "", ""))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("got %d Upgrade=%q", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	if id := resp.Header.Values("X-Request-Id"); len(id) != 1 || !generatedID.MatchString(id[0]) {
		t.Fatalf("X-Request-Id = %q, want the gateway's only", id)
	}
	for _, msg := range []string{"hello\n", "again\n"} {
		fmt.Fprint(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo = %q, %v; want %q", got, err, msg)
		}
	}
	conn.Close()
	select {
	case ri := <-infos:
		if ri.Status != http.StatusSwitchingProtocols {
			t.Fatalf("RequestInfo.Status = %d, want 101", ri.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no RequestInfo after the websocket closed")
	}
}

func TestGatewayRefusesOtherUpgrades(t *testing.T) {
	_, front := newTestGateway(t, Config{}, route(testHost, wsBackend(t)))
	resp, body := rawRoundTrip(t, addrOf(front), crlf("GET / HTTP/1.1", "Host: "+testHost,
		"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA", "", ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	if want := `plain upgrade="" connection=""`; string(body) != want {
		t.Fatalf("backend saw %s, want %s", body, want)
	}
}

func TestGatewayStreamsLargeBodies(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Upload-Sum", fmt.Sprintf("%x", h.Sum(nil)))
		w.Header().Set("X-Upload-Len", fmt.Sprint(n))
		_, _ = io.Copy(w, io.LimitReader(repeatReader('z'), 3<<20))
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))

	upload := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB, > many 32 KiB buffers
	req, _ := http.NewRequest(http.MethodPut, front.URL+"/blob", bytes.NewReader(upload))
	req.Host = testHost
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 3<<20 {
		t.Fatalf("download %d bytes, %v; want %d", n, err, 3<<20)
	}
	if got, want := resp.Header.Get("X-Upload-Sum"), fmt.Sprintf("%x", sha256.Sum256(upload)); got != want {
		t.Fatalf("upload corrupted: sum %s len %s", got, resp.Header.Get("X-Upload-Len"))
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestGatewayForwardsTrailers(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		fmt.Fprint(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}))
	t.Cleanup(backend.Close)
	_, front := newTestGateway(t, Config{}, route(testHost, backend))
	req, _ := http.NewRequest(http.MethodGet, front.URL, nil)
	req.Host = testHost
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailer %v", body, resp.Trailer)
	}
}

func TestBufferPool(t *testing.T) {
	p := newBufferPool()
	b := p.Get()
	if len(b) != proxyBufferSize {
		t.Fatalf("len = %d, want %d", len(b), proxyBufferSize)
	}
	p.Put(b)
	p.Put(make([]byte, 10)) // too small: dropped, must not panic
	if n := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); n != 0 {
		t.Fatalf("Get/Put allocate %v times", n)
	}
}
