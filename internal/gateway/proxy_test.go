package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
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
	_, front := loggingGateway(t, backend)
	upload := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB, > many 32 KiB buffers
	resp := putUpload(t, front, upload)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 3<<20 {
		t.Fatalf("download %d bytes, %v; want %d", n, err, 3<<20)
	}
	if got, want := resp.Header.Get("X-Upload-Sum"), fmt.Sprintf("%x", sha256.Sum256(upload)); got != want {
		t.Fatalf("upload corrupted: sum %s len %s", got, resp.Header.Get("X-Upload-Len"))
	}
}

// A backend that answers a large upload while the gateway's Transport
// has yet to finish its write of it (it reads the client's body once
// more after the declared length, to check there is no more): writing
// the response's head makes net/http's server close the client's body,
// and that late read used to fail and make the Transport close the
// backend connection under the response, cutting the download after its
// first piece. CI once caught it on a loaded machine; here a backend
// connection whose writes stall after the upload holds the Transport
// back until the response has started.
func TestLargeUploadResponseSurvivesLateTransportWrite(t *testing.T) {
	more := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.Copy(w, io.LimitReader(repeatReader('z'), 32<<10))
		w.(http.Flusher).Flush()
		<-more
		io.Copy(w, io.LimitReader(repeatReader('z'), 3<<20-32<<10))
	}))
	t.Cleanup(backend.Close)
	g, front := loggingGateway(t, backend)
	upload := bytes.Repeat([]byte("0123456789abcdef"), 200_000)
	resume := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(resume) }) }
	t.Cleanup(release)
	dial := g.transport.DialContext
	g.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallAfter{Conn: c, after: int64(len(upload)), resume: resume}, nil
	}
	resp := putUpload(t, front, upload)
	release()                          // the response is under way: the Transport goes on,
	time.Sleep(100 * time.Millisecond) // to its read of the body after the declared length
	close(more)
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != 3<<20 {
		t.Fatalf("download %d bytes, %v; want %d", n, err, 3<<20)
	}
}

// loggingGateway is a test gateway in front of backend whose log the
// test prints if it fails.
func loggingGateway(t *testing.T, backend *httptest.Server) (*Gateway, *httptest.Server) {
	t.Helper()
	var logged testutil.SyncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the gateway logged:\n%s", logged.String())
		}
	})
	return newTestGateway(t, Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}, route(testHost, backend))
}

// putUpload PUTs upload through front and returns the response, whose
// body the test's end closes.
func putUpload(t *testing.T, front *httptest.Server, upload []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, front.URL+"/blob", bytes.NewReader(upload))
	req.Host = testHost
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// stallAfter is a backend connection whose writes, once after bytes in
// all went out, return only when resume is closed. Only the Transport's
// write goroutine writes to it.
type stallAfter struct {
	net.Conn
	after   int64
	written int64
	resume  <-chan struct{}
}

func (c *stallAfter) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += int64(n)
	if c.written >= c.after {
		<-c.resume
	}
	return n, err
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

// wireBackend answers 200 to every request and sends each request's head,
// as the gateway wrote it on the wire, and its body and trailers to the
// returned channel.
func wireBackend(t *testing.T) (addr string, got <-chan wireRequest) {
	t.Helper()
	ch := make(chan wireRequest, 10)
	addr = tcpBackend(t, func(conn net.Conn) {
		var raw bytes.Buffer
		br := bufio.NewReader(io.TeeReader(conn, &raw))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		head, _, _ := strings.Cut(raw.String(), "\r\n\r\n")
		ch <- wireRequest{head: head, body: string(body), trailer: req.Trailer}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	return addr, ch
}

type wireRequest struct {
	head    string
	body    string
	trailer http.Header
}

// headerNames are the field names of a raw request head, lower case.
func headerNames(head string) map[string][]string {
	names := map[string][]string{}
	lines := strings.Split(head, "\r\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		names[strings.ToLower(k)] = append(names[strings.ToLower(k)], strings.TrimSpace(v))
	}
	return names
}

// TestGatewayHopByHopOnTheWire checks, on the bytes the backend reads,
// that hop-by-hop headers of the client's connection are not forwarded:
// those Connection lists, Keep-Alive, TE (but trailers), Trailer without
// trailers, Upgrade on a request that is not an upgrade, Proxy-*, and
// the client's Transfer-Encoding (the gateway frames the body itself).
func TestGatewayHopByHopOnTheWire(t *testing.T) {
	hop := []string{
		"Connection: keep-alive, X-Secret, X-Other",
		"X-Secret: listed-in-connection",
		"X-Other: also listed",
		"Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive",
		"Proxy-Authorization: Basic c2VjcmV0",
		"Proxy-Authenticate: Basic realm=x",
		"TE: gzip, trailers",
		"Upgrade: websocket", // not listed in Connection: not an upgrade
		"X-End-To-End: kept",
	}
	tests := []struct {
		name, framing, body string
		wantBody, wantTE    string
		wantTrailer         bool
	}{
		{"Content-Length", "Trailer: X-Checksum\r\nContent-Length: 4", "body", "body", "", false},
		{"chunked with a trailer", "Trailer: X-Checksum\r\nTransfer-Encoding: chunked", "4;ext=1\r\nbody\r\n0\r\nX-Checksum: abc\r\n\r\n", "body", "chunked", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, got := wireBackend(t)
			_, front := newTestGateway(t, Config{}, Route{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "w", Addr: addr}}})
			raw := "POST /hop HTTP/1.1\r\nHost: " + testHost + "\r\n" + strings.Join(hop, "\r\n") + "\r\n" + tt.framing + "\r\n\r\n" + tt.body
			resp, body := rawRoundTrip(t, addrOf(front), raw)
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			w := <-got
			names := headerNames(w.head)
			for _, h := range []string{"connection", "x-secret", "x-other", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "upgrade"} {
				if v, ok := names[h]; ok {
					t.Errorf("%s reached the backend: %q", h, v)
				}
			}
			if te := names["te"]; len(te) != 1 || te[0] != "trailers" {
				t.Errorf("TE = %q, want only trailers", te)
			}
			if te := names["transfer-encoding"]; tt.wantTE == "" && len(te) != 0 || tt.wantTE != "" && (len(te) != 1 || te[0] != tt.wantTE) {
				t.Errorf("Transfer-Encoding = %q, want %q", te, tt.wantTE)
			}
			if tr := names["trailer"]; tt.wantTrailer != (len(tr) == 1 && tr[0] == "X-Checksum") || !tt.wantTrailer && len(tr) != 0 {
				t.Errorf("Trailer = %q, want it only with trailers", tr)
			}
			if got := w.trailer.Get("X-Checksum"); tt.wantTrailer != (got == "abc") {
				t.Errorf("trailer X-Checksum = %q", got)
			}
			if names["x-end-to-end"] == nil || w.body != tt.wantBody {
				t.Errorf("end-to-end header %q, body %q", names["x-end-to-end"], w.body)
			}
		})
	}
}

// TestGatewayHeaderLimit checks the recommended server settings: headers
// up to MaxHeaderBytes pass, larger ones are answered 431 by net/http.
func TestGatewayHeaderLimit(t *testing.T) {
	backend, hits := countingBackend(t, "a")
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	front := strictGateway(t, g)
	for _, tt := range []struct {
		size int
		want int
	}{
		{MaxHeaderBytes - 1024, http.StatusOK},
		{MaxHeaderBytes + 8192, http.StatusRequestHeaderFieldsTooLarge}, // net/http allows 4 KiB of slack
	} {
		before := hits.Load()
		resp, _ := rawRoundTrip(t, addrOf(front), "GET / HTTP/1.1\r\nHost: "+testHost+"\r\nX-Big: "+strings.Repeat("b", tt.size)+"\r\n\r\n")
		if resp.StatusCode != tt.want {
			t.Fatalf("%d-byte header: status %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
		if reached := hits.Load() > before; reached != (tt.want == http.StatusOK) {
			t.Fatalf("%d-byte header: reached the backend: %v", tt.size, reached)
		}
	}
}
