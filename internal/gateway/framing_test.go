package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// chunkedConn is a net.Conn whose reads return the bytes of a stream in
// pieces of random size, as a socket may.
type chunkedConn struct {
	net.Conn // nil: only Read is used
	data     []byte
	rng      *rand.Rand
	max      int
}

func (c *chunkedConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(c.max))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// readAllStrict reads stream through a strictConn with reads of random
// sizes on both sides, and returns what the server would have read.
func readAllStrict(stream []byte, seed uint64) ([]byte, *strictConn, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := &strictConn{Conn: &chunkedConn{data: stream, rng: rng, max: 1 + rng.IntN(600)}}
	var out []byte
	for {
		p := make([]byte, 1+rng.IntN(300))
		if rng.IntN(4) == 0 {
			p = make([]byte, 1) // like the server's background read
		}
		n, err := c.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, c, nil
		}
		if err != nil {
			return out, c, err
		}
	}
}

// validRequests builds a random stream of requests net/http accepts,
// with bodies made to look like what StrictListener rejects in a head.
func validRequests(rng *rand.Rand) []byte {
	var b bytes.Buffer
	nl := func() string {
		if rng.IntN(5) == 0 {
			return "\n"
		}
		return "\r\n"
	}
	tricky := []string{
		"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		" folded: line\r\n\tand another\r\n",
		"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"0\r\n\r\n",
		"Transfer-Encoding: chunked, identity\r\n",
	}
	for range 1 + rng.IntN(6) {
		version := "HTTP/1.1"
		if rng.IntN(6) == 0 {
			version = "HTTP/1.0"
		}
		method := []string{"GET", "POST", "PUT", "OPTIONS"}[rng.IntN(4)]
		fmt.Fprintf(&b, "%s /p/%d?q=%s %s%s", method, rng.IntN(1000), strings.Repeat("a", rng.IntN(200)), version, nl())
		fmt.Fprintf(&b, "Host: dev.hello.localhost%s", nl())
		for range rng.IntN(5) {
			name := []string{"Content-Type", "Content-Lengthy", "Transfer-Encodings", "Upgrade-Insecure-Requests", "X-Long", "Transfer", "Te", "Cookie"}[rng.IntN(8)]
			fmt.Fprintf(&b, "%s:%s%s%s", name, strings.Repeat(" ", rng.IntN(3)), strings.Repeat("v", rng.IntN(100)), nl())
		}
		body := []byte(tricky[rng.IntN(len(tricky))] + strings.Repeat("x", rng.IntN(3000)))
		switch kind := rng.IntN(3); {
		case kind == 0 || method == "GET" && rng.IntN(2) == 0:
			b.WriteString(nl()) // no body
		case kind == 1 || version == "HTTP/1.0":
			fmt.Fprintf(&b, "Content-Length: %d%s%s", len(body), nl(), nl())
			b.Write(body)
		default:
			fmt.Fprintf(&b, "transfer-encoding: Chunked%s%s", nl(), nl())
			for len(body) > 0 {
				n := min(len(body), 1+rng.IntN(700))
				ext := ""
				if rng.IntN(3) == 0 {
					ext = ";name=value"
				}
				fmt.Fprintf(&b, "%x%s\r\n", n, ext)
				b.Write(body[:n])
				b.WriteString("\r\n")
				body = body[n:]
			}
			b.WriteString("0\r\n")
			if rng.IntN(2) == 0 {
				b.WriteString("X-Checksum: abc\r\n")
			}
			b.WriteString("\r\n") // net/http wants CRLF in chunked framing
		}
	}
	return b.Bytes()
}

// TestStrictConnPassesValidRequests checks that StrictListener hands
// valid pipelined requests over unchanged, however reads split them, and
// keeps following them (never gives up on a connection that is valid).
func TestStrictConnPassesValidRequests(t *testing.T) {
	for seed := range uint64(500) {
		stream := validRequests(rand.New(rand.NewPCG(seed, 2)))
		got, c, err := readAllStrict(stream, seed)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("seed %d: stream changed\nsent %q\n got %q", seed, stream, got)
		}
		if c.f.state != stRequestLine {
			t.Fatalf("seed %d: framing lost track (state %d) of\n%q", seed, c.f.state, stream)
		}
		// And net/http parses the same requests from it.
		br := bufio.NewReader(bytes.NewReader(got))
		for {
			req, err := http.ReadRequest(br)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("seed %d: net/http rejects the test's own stream: %v", seed, err)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				t.Fatalf("seed %d: body: %v", seed, err)
			}
		}
	}
}

func TestStrictConnRejects(t *testing.T) {
	const ok = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, in string
		kept     string // what the server gets before rejectedLine
	}{
		{"CL then TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"},
		{"TE then CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"},
		{"TE chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\n"},
		{"TE identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", "POST / HTTP/1.1\r\n"},
		{"TE twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"},
		{"TE too long", "POST / HTTP/1.1\r\nTransfer-Encoding: " + strings.Repeat("chunked", 10) + "\r\n\r\n", "POST / HTTP/1.1\r\n"},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\nPOST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
			"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\nPOST / HTTP/1.0\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n"},
		{"obs-fold first line", "GET / HTTP/1.1\r\n\tHost: x\r\n\r\n", "GET / HTTP/1.1\r\n"},
		{"obs-fold TE", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "POST / HTTP/1.1\r\n"},
		{"second pipelined request", ok + "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
			"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
			ok + "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
				"POST / HTTP/1.1\r\nContent-Length: 1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				got, _, err := readAllStrict([]byte(tt.in), seed)
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.kept + string(rejectedLine); string(got) != want {
					t.Fatalf("seed %d: server reads\n%q\nwant\n%q", seed, got, want)
				}
			}
		})
	}
}

func TestStrictConnStopsLookingAtUpgrades(t *testing.T) {
	for _, head := range []string{
		"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		// After the head, bytes that would be rejected in a request head.
		in := head + "GET / HTTP/1.1\r\n folded\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
		got, c, err := readAllStrict([]byte(in), 1)
		if err != nil || string(got) != in || c.f.state != stPassthrough {
			t.Fatalf("%q: got %q, %v, state %d; want it all, passed through", head, got, err, c.f.state)
		}
	}
}

// strictGateway serves g as the server package does: through a
// Frontend, whose fallback's listener is strict (or over a StrictListener
// alone, when the suite runs through net/http).
func strictGateway(t *testing.T, g *Gateway) *httptest.Server {
	return serveTestGateway(t, g)
}

// strictNetHTTP serves g over a StrictListener with the recommended
// server settings, as the server package serves HTTPS/1.1.
func strictNetHTTP(t *testing.T, g *Gateway, wrap func(net.Listener) net.Listener) *httptest.Server {
	t.Helper()
	front := httptest.NewUnstartedServer(g)
	if wrap != nil {
		front.Listener = wrap(front.Listener)
	}
	front.Listener = StrictListener(front.Listener)
	front.Config.ReadHeaderTimeout = ReadHeaderTimeout
	front.Config.MaxHeaderBytes = MaxHeaderBytes
	front.Config.IdleTimeout = IdleTimeout
	front.Config.ConnContext = ConnContext
	front.Start()
	t.Cleanup(func() {
		front.Close()
		g.CloseIdleConnections()
	})
	return front
}

// TestGatewayRejectsSmuggling sends what would smuggle a request past a
// proxy that reads lengths differently, raw over TCP: each gets a 400,
// the connection is closed, and nothing reaches the backend.
func TestGatewayRejectsSmuggling(t *testing.T) {
	backend, hits := countingBackend(t, "a")
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, backend)}))
	front := strictGateway(t, g)

	smuggled := "GET /smuggled HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n"
	tests := []struct{ name, raw string }{
		{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding and Content-Length", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" + smuggled},
		{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello" + smuggled},
		{"Content-Length list", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 5, 40\r\n\r\nhello" + smuggled},
		{"Transfer-Encoding chunked, identity", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: " + testHost + "\r\nX-Folded: a\r\n b\r\n\r\n"},
		{"obs-fold Transfer-Encoding", "POST / HTTP/1.1\r\nHost: " + testHost + "\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: " + testHost + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" + smuggled},
		{"pipelined after a valid request", "GET /ok HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n" +
			"POST / HTTP/1.1\r\nHost: " + testHost + "\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			conn, err := net.Dial("tcp", addrOf(front))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tt.raw); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.name, "pipelined") { // the valid one is answered first
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("valid request: %d", resp.StatusCode)
				}
				before++
				if resp, err = http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %q, want 400", resp.StatusCode, body)
			}
			if _, err := http.ReadResponse(br, nil); err == nil {
				t.Fatal("a second response: the connection was kept open")
			}
			if n := hits.Load(); n != before {
				t.Fatalf("backend got %d requests, want %d", n, before)
			}
		})
	}
}

// TestGatewayStrictListenerServesValidTraffic sends pipelined requests
// with every kind of body through a StrictListener.
func TestGatewayStrictListenerServesValidTraffic(t *testing.T) {
	g := New(Config{})
	g.Update(NewRouteTable([]Route{route(testHost, echoBackend(t, "a"))}))
	front := strictGateway(t, g)
	conn, err := net.Dial("tcp", addrOf(front))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /one HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: "+testHost+"\r\nContent-Length: 11\r\n\r\nhello world"+
		"POST /three HTTP/1.1\r\nHost: "+testHost+"\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"+
		"GET /four HTTP/1.0\r\nHost: "+testHost+"\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, want := range []seen{{Path: "/one"}, {Path: "/two", Body: "hello world"}, {Path: "/three", Body: "hello world"}, {Path: "/four"}} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want.Path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if s := decodeSeen(t, body); resp.StatusCode != http.StatusOK || s.Path != want.Path || s.Body != want.Body {
			t.Fatalf("got %d %s %q, want %s %q", resp.StatusCode, s.Path, s.Body, want.Path, want.Body)
		}
	}
}

// FuzzStrictConn checks what StrictListener may do to any input: hand it
// over unchanged, or unchanged up to a line that it replaces with
// rejectedLine, then end; and never panic.
func FuzzStrictConn(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), uint64(1))
	f.Add([]byte("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), uint64(2))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.0\n\n"), uint64(3))
	f.Add([]byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), uint64(4))
	f.Add([]byte("PUT / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n"), uint64(5))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		got, _, err := readAllStrict(in, seed)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, in) {
			return
		}
		kept, ok := bytes.CutSuffix(got, rejectedLine)
		if !ok || !bytes.HasPrefix(in, kept) {
			t.Fatalf("input changed:\n in %q\nout %q", in, got)
		}
	})
}
