package gateway

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestParseHeadTakes(t *testing.T) {
	head := "POST /a/b%20c?x=1&y=2 HTTP/1.1\r\n" +
		"host: Dev.Hello.localhost:8080\r\n" +
		"Content-Length: 5\r\n" +
		"Connection: keep-alive, Close\r\n" +
		"X-Request-Id: abc-1\r\n" +
		"x-api-key:  slk_1  \r\n" +
		"Idempotency-Key: k\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Accept: */*\r\n" +
		"X-Obs-Text: caf\xc3\xa9\r\n\r\n"
	var req fastRequest
	if !parseHead([]byte(head), &req) {
		t.Fatal("parseHead refused a plain request")
	}
	if req.method != "POST" || string(req.target) != "/a/b%20c?x=1&y=2" || string(req.path) != "/a/b%20c" ||
		string(req.host) != "Dev.Hello.localhost:8080" || req.contentLength != 5 || !req.close ||
		string(req.requestID) != "abc-1" || string(req.apiKey) != "slk_1" || !req.idempotentKey {
		t.Fatalf("parsed %+v", req)
	}
	if p, ok := req.unescapedPath(); !ok || p != "/a/b c" {
		t.Fatalf("unescaped path = %q, %v", p, ok)
	}
	kinds := map[string]uint8{}
	for _, h := range req.headers[:req.n] {
		name, _, _ := strings.Cut(string(h.line), ":")
		kinds[name] = h.kind
	}
	want := map[string]uint8{"host": hHost, "Content-Length": hLength, "Connection": hConnection, "X-Request-Id": hRequestID,
		"x-api-key": hAPIKey, "Idempotency-Key": hIdempotent, "X-Forwarded-For": hDrop, "Keep-Alive": hDrop,
		"Accept": hOther, "X-Obs-Text": hOther}
	for name, kind := range want {
		if kinds[name] != kind {
			t.Errorf("%s: kind %d, want %d", name, kinds[name], kind)
		}
	}
}

// TestParseHeadLeavesToNetHTTP lists heads the fast path must not take:
// they go to net/http, which serves or refuses them as before.
func TestParseHeadLeavesToNetHTTP(t *testing.T) {
	ok := "Host: a.localhost\r\n"
	for name, head := range map[string]string{
		"HTTP/1.0":                "GET / HTTP/1.0\r\n" + ok + "\r\n",
		"HTTP/2 preface":          "PRI * HTTP/2.0\r\n\r\n",
		"absolute form":           "GET http://a.localhost/ HTTP/1.1\r\n" + ok + "\r\n",
		"asterisk":                "OPTIONS * HTTP/1.1\r\n" + ok + "\r\n",
		"CONNECT":                 "CONNECT a.localhost:443 HTTP/1.1\r\n" + ok + "\r\n",
		"lower-case method":       "get / HTTP/1.1\r\n" + ok + "\r\n",
		"two spaces":              "GET  / HTTP/1.1\r\n" + ok + "\r\n",
		"fragment":                "GET /a#b HTTP/1.1\r\n" + ok + "\r\n",
		"non-ASCII target":        "GET /caf\xc3\xa9 HTTP/1.1\r\n" + ok + "\r\n",
		"no Host":                 "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
		"two Hosts":               "GET / HTTP/1.1\r\n" + ok + ok + "\r\n",
		"empty Host":              "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		"odd Host":                "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"obs-fold":                "GET / HTTP/1.1\r\n" + ok + "X-A: a\r\n b\r\n\r\n",
		"space before colon":      "GET / HTTP/1.1\r\n" + ok + "X-A : a\r\n\r\n",
		"no colon":                "GET / HTTP/1.1\r\n" + ok + "X-A\r\n\r\n",
		"control in value":        "GET / HTTP/1.1\r\n" + ok + "X-A: a\x01b\r\n\r\n",
		"bare CR in value":        "GET / HTTP/1.1\r\n" + ok + "X-A: a\rb\r\n\r\n",
		"bare LF":                 "GET / HTTP/1.1\r\n" + ok + "X-A: a\nX-B: b\r\n\r\n",
		"Transfer-Encoding":       "POST / HTTP/1.1\r\n" + ok + "Transfer-Encoding: chunked\r\n\r\n",
		"Content-Length and TE":   "POST / HTTP/1.1\r\n" + ok + "Content-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
		"two Content-Lengths":     "POST / HTTP/1.1\r\n" + ok + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"Content-Length list":     "POST / HTTP/1.1\r\n" + ok + "Content-Length: 3, 3\r\n\r\n",
		"signed Content-Length":   "POST / HTTP/1.1\r\n" + ok + "Content-Length: +3\r\n\r\n",
		"large body":              "POST / HTTP/1.1\r\n" + ok + "Content-Length: " + strconv.Itoa(fastBodyMax+1) + "\r\n\r\n",
		"Upgrade":                 "GET / HTTP/1.1\r\n" + ok + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"Expect":                  "POST / HTTP/1.1\r\n" + ok + "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n",
		"TE":                      "GET / HTTP/1.1\r\n" + ok + "TE: trailers\r\n\r\n",
		"Trailer":                 "POST / HTTP/1.1\r\n" + ok + "Trailer: X-Sum\r\n\r\n",
		"Connection option":       "GET / HTTP/1.1\r\n" + ok + "Connection: X-Secret\r\nX-Secret: 1\r\n\r\n",
		"two API keys":            "GET / HTTP/1.1\r\n" + ok + "X-Api-Key: a\r\nX-Api-Key: b\r\n\r\n",
		"leading empty line":      "\r\nGET / HTTP/1.1\r\n" + ok + "\r\n",
		"too many headers":        "GET / HTTP/1.1\r\n" + ok + strings.Repeat("X-A: a\r\n", maxFastHeaders) + "\r\n",
		"no end":                  "GET / HTTP/1.1\r\n" + ok,
		"Transfer-Encoding upper": "POST / HTTP/1.1\r\n" + ok + "TRANSFER-ENCODING: chunked\r\n\r\n",
	} {
		var req fastRequest
		if parseHead([]byte(head), &req) {
			t.Errorf("%s: parseHead took %q", name, head)
		}
	}
}

// FuzzParseHead checks the parser against net/http's: what parseHead
// takes, net/http reads as the same request (method, target, host,
// length, and the header lines the fast path forwards), and parseHead
// never panics.
func FuzzParseHead(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a.localhost\r\n\r\n",
		"POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-Api-Key: k\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-A:  b \r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		var req fastRequest
		if !parseHead(head, &req) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("parseHead took %q, net/http refuses it: %v", head, err)
		}
		if r.Method != req.method || r.RequestURI != string(req.target) || r.Host != string(req.host) {
			t.Fatalf("%q: net/http reads %s %s host %q", head, r.Method, r.RequestURI, r.Host)
		}
		if req.hasLength && r.ContentLength != req.contentLength {
			t.Fatalf("%q: net/http reads length %d, parseHead %d", head, r.ContentLength, req.contentLength)
		}
		if r.Close != req.close {
			t.Fatalf("%q: net/http reads close=%v", head, r.Close)
		}
		for _, h := range req.headers[:req.n] {
			name, _, _ := bytes.Cut(h.line, []byte(":"))
			if h.kind == hHost {
				continue // net/http keeps it in r.Host
			}
			if vs := r.Header.Values(string(name)); len(vs) == 0 {
				t.Fatalf("%q: net/http has no %s header", head, name)
			}
		}
	})
}

func TestHeaderKindAnyCase(t *testing.T) {
	for name, kind := range map[string]uint8{
		"te": hHandOff, "expect": hHandOff, "upgrade": hHandOff, "trailer": hHandOff, "transfer-encoding": hHandOff,
		"host": hHost, "content-length": hLength, "connection": hConnection,
		"forwarded": hDrop, "keep-alive": hDrop, "x-forwarded-for": hDrop, "x-forwarded-host": hDrop,
		"x-forwarded-proto": hDrop, "proxy-connection": hDrop, "proxy-authenticate": hDrop, "proxy-authorization": hDrop,
		"x-request-id": hRequestID, "x-api-key": hAPIKey, "idempotency-key": hIdempotent, "x-idempotency-key": hIdempotent,
		"x-real-ip": hDrop, "true-client-ip": hDrop, "x-cluster-client-ip": hDrop, "fastly-client-ip": hDrop,
		"accept": hOther, "x-forwarded-port": hOther, "content-type": hOther,
	} {
		for _, n := range []string{name, strings.ToUpper(name), http.CanonicalHeaderKey(name)} {
			if got := headerKind([]byte(n)); got != kind {
				t.Errorf("headerKind(%q) = %d, want %d", n, got, kind)
			}
		}
	}
}

func TestResponseKindsAnyCase(t *testing.T) {
	for name, kind := range map[string]uint8{
		"content-length": rLength, "transfer-encoding": rTransferEncoding, "connection": rConnection,
		"te": rDrop, "upgrade": rDrop, "keep-alive": rDrop, "proxy-connection": rDrop, "proxy-authenticate": rDrop,
		"proxy-authorization": rDrop, "x-request-id": rDrop, "trailer": rTrailer, "date": rDate, "content-type": rContentType,
		"set-cookie": rOther, "content-encoding": rOther, "x-request-ids": rOther,
	} {
		for _, n := range []string{name, strings.ToUpper(name), http.CanonicalHeaderKey(name)} {
			if got := responseKinds.kind([]byte(n)); got != kind {
				t.Errorf("responseKinds.kind(%q) = %d, want %d", n, got, kind)
			}
		}
	}
}
