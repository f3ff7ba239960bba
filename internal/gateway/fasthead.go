package gateway

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

// The fast path's request parser. It accepts a strict subset of
// HTTP/1.1: what it does not accept is not refused but handed, as it
// came, to net/http (see Frontend), which answers it as before. So it
// only has to be right about what it accepts, never about why something
// is wrong.

// maxFastHeaders bounds the header lines of a request the fast path
// takes; a request with more goes to net/http.
const maxFastHeaders = 64

// Header kinds the fast path tells apart.
const (
	hOther      uint8 = iota
	hHost             // Host
	hLength           // Content-Length
	hConnection       // Connection
	hDrop             // never forwarded: hop-by-hop, and the ones the gateway sets
	hRequestID        // X-Request-Id
	hAPIKey           // X-Api-Key: read by the gateway, never forwarded
	hIdempotent       // Idempotency-Key, X-Idempotency-Key: forwarded
	hHandOff          // framing or protocol the fast path leaves to net/http
)

// fastHeader is one header line of a request, without its CRLF.
type fastHeader struct {
	line  []byte // the line as the client sent it
	value []byte // its value, without surrounding whitespace
	kind  uint8
}

// fastRequest is a request head the fast path takes. Its slices point
// into the connection's read buffer: valid until the next request.
type fastRequest struct {
	method        string // interned for the common methods
	target        []byte // origin-form: a path starting with "/", maybe a query
	path          []byte // target up to "?", still escaped
	host          []byte
	contentLength int64 // 0 without Content-Length
	hasLength     bool
	close         bool // Connection: close
	requestID     []byte
	apiKey        []byte
	hasAPIKey     bool
	idempotentKey bool
	headers       [maxFastHeaders]fastHeader
	n             int
}

var (
	crlfBytes = []byte("\r\n")
	crlfcrlf  = []byte("\r\n\r\n")
	http11    = []byte("HTTP/1.1")
)

// parseHead parses head, a request line and header lines each ending
// in CRLF and a final CRLF, into req. It reports false when the fast
// path should not take the request: anything but HTTP/1.1 in origin form
// with one sane Host, lines that are not plain "name: value", bodies
// whose length is not one plain Content-Length of at most fastBodyMax,
// and whatever asks for more than a request and a response (upgrades,
// Expect, Transfer-Encoding, TE, trailers, Connection options beyond
// close and keep-alive).
func parseHead(head []byte, req *fastRequest) bool {
	*req = fastRequest{}
	end := bytes.Index(head, crlfBytes)
	if end <= 0 || !parseRequestLine(head[:end], req) {
		return false
	}
	rest := head[end+2:]
	hosts := 0
	for {
		i := bytes.Index(rest, crlfBytes)
		if i < 0 {
			return false
		}
		if i == 0 {
			break // the empty line ending the head
		}
		line := rest[:i]
		rest = rest[i+2:]
		if req.n == maxFastHeaders {
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false // no name, obs-fold
		}
		name := line[:colon]
		underscore := false
		for _, c := range name { // isToken, noting an underscore on the way
			if !tokenChar[c] {
				return false // a space before the colon, say
			}
			underscore = underscore || c == '_'
		}
		value := trimOWS(line[colon+1:])
		if !fieldValue(value) {
			return false
		}
		kind := headerKind(name)
		if underscore && kind == hOther && underscoreAlias(name) {
			kind = hDrop
		}
		switch kind {
		case hHandOff:
			return false
		case hHost:
			hosts++
			if hosts > 1 || !saneHost(value) {
				return false
			}
			req.host = value
		case hLength:
			if req.hasLength {
				return false
			}
			n, ok := parseLength(value)
			if !ok || n > fastBodyMax {
				return false
			}
			req.contentLength, req.hasLength = n, true
		case hConnection:
			if !connectionOptions(value, &req.close) {
				return false
			}
		case hRequestID:
			if req.requestID == nil { // the first, as net/http's path takes
				req.requestID = value // never nil: a slice of head
			}
		case hAPIKey:
			if req.hasAPIKey {
				return false // which one? net/http's path takes the first
			}
			req.apiKey, req.hasAPIKey = value, true
		case hIdempotent:
			req.idempotentKey = true
		}
		req.headers[req.n] = fastHeader{line: line, value: value, kind: kind}
		req.n++
	}
	return hosts == 1
}

// parseRequestLine parses "METHOD /target HTTP/1.1".
func parseRequestLine(line []byte, req *fastRequest) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > 16 {
		return false
	}
	method := line[:sp]
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.Equal(line[sp+1:], http11) {
		return false
	}
	target := line[:sp]
	if target[0] != '/' {
		return false // absolute form, "*" (OPTIONS, PRI)
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	switch string(method) { // no allocation: the compiler compares in place
	case "GET":
		req.method = "GET"
	case "HEAD":
		req.method = "HEAD"
	case "POST":
		req.method = "POST"
	case "PUT":
		req.method = "PUT"
	case "DELETE":
		req.method = "DELETE"
	case "PATCH":
		req.method = "PATCH"
	case "OPTIONS":
		req.method = "OPTIONS"
	case "CONNECT", "PRI":
		return false
	default:
		req.method = string(method)
	}
	req.target = target
	req.path = target
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		req.path = target[:q]
	}
	return true
}

// unescapedPath is the request's path as net/http's r.URL.Path has it.
func (req *fastRequest) unescapedPath() (string, bool) {
	if bytes.IndexByte(req.path, '%') < 0 {
		return string(req.path), true
	}
	p, err := url.PathUnescape(string(req.path))
	return p, err == nil
}

// requestKinds are the request headers the fast path tells apart. It
// serves no connection from a trusted proxy, so it drops every one of
// clientIPHeaders.
var requestKinds = newKindTable(hOther, func() map[string]uint8 {
	kinds := map[string]uint8{
		"host": hHost, "content-length": hLength, "connection": hConnection,
		"te": hHandOff, "expect": hHandOff, "upgrade": hHandOff, "trailer": hHandOff, "transfer-encoding": hHandOff,
		"forwarded": hDrop, "keep-alive": hDrop, "x-forwarded-for": hDrop, "x-forwarded-host": hDrop,
		"x-forwarded-proto": hDrop, "proxy-connection": hDrop, "proxy-authenticate": hDrop, "proxy-authorization": hDrop,
		"x-request-id": hRequestID, "x-api-key": hAPIKey,
		"idempotency-key": hIdempotent, "x-idempotency-key": hIdempotent,
	}
	for _, h := range clientIPHeaders {
		kinds[strings.ToLower(h)] = hDrop
	}
	return kinds
}())

// clientIPHeaders carry a client's address as a proxy in front of the
// gateway saw it. Apps and their frameworks read them before
// X-Forwarded-For (chi's and echo's RealIP, gin, Rails, npm's
// request-ip), so from anyone but a trusted proxy they are dropped, as
// the client's X-Forwarded-For is: a client could name any address.
var clientIPHeaders = []string{"X-Real-Ip", "True-Client-Ip", "Client-Ip", "X-Client-Ip", "X-Cluster-Client-Ip",
	"Cf-Connecting-Ip", "Fastly-Client-Ip"}

// underscoreAlias reports whether name, read with "-" for each "_",
// is one of requestKinds' names: a header the gateway sets, reads or
// never forwards. Such a name is not that header to the gateway, but
// servers that map header names to variables (CGI, PHP, WSGI, Rack:
// X_Forwarded_For and X-Forwarded-For both become
// HTTP_X_FORWARDED_FOR) would read it as that header, so a client
// could pass, say, a forged client IP or request id through. The
// gateway drops such headers on every path; other names with
// underscores go through.
func underscoreAlias[S ~string | ~[]byte](name S) bool {
	if len(name) >= len(requestKinds.byLen) {
		return false
	}
	for _, e := range requestKinds.byLen[len(name)] {
		same := true
		for i := 0; i < len(name) && same; i++ {
			c := name[i]
			switch {
			case c == '_':
				c = '-'
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			same = c == e.name[i]
		}
		if same {
			return true
		}
	}
	return false
}

// dropUnderscoreAliases deletes from h the headers underscoreAlias
// reports, for the requests net/http parses.
func dropUnderscoreAliases(h http.Header) {
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 && underscoreAlias(k) {
			delete(h, k)
		}
	}
}

// headerKind classifies a request header name, in any case.
func headerKind(name []byte) uint8 { return requestKinds.kind(name) }

// kindTable classifies header names in any case: the names it knows,
// in lower case, by length, so a lookup compares a name with the few
// of its length only.
type kindTable struct {
	byLen [20][]kindEntry
	other uint8
}

type kindEntry struct {
	name string
	kind uint8
}

func newKindTable(other uint8, kinds map[string]uint8) *kindTable {
	t := &kindTable{other: other}
	for name, kind := range kinds {
		t.byLen[len(name)] = append(t.byLen[len(name)], kindEntry{name, kind})
	}
	return t
}

func (t *kindTable) kind(name []byte) uint8 {
	if len(name) < len(t.byLen) {
		for _, e := range t.byLen[len(name)] {
			if asciiEqualFold(name, e.name) {
				return e.kind
			}
		}
	}
	return t.other
}

// asciiEqualFold compares b with lower, which is in lower case.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// fieldValue reports whether v holds only what a field value may:
// visible characters, spaces and tabs, and obs-text.
func fieldValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// saneHost accepts the hosts routes can have: a name or an IPv4 address,
// or an IPv6 literal in brackets, with an optional port.
func saneHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length of decimal digits.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// connectionOptions accepts a Connection value of close and keep-alive
// only, noting close. Any other option names a header to drop, which
// the fast path leaves to net/http.
func connectionOptions(v []byte, close *bool) bool {
	for len(v) > 0 {
		part := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		part = trimOWS(part)
		switch {
		case len(part) == 0:
		case asciiEqualFold(part, "close"):
			*close = true
		case asciiEqualFold(part, "keep-alive"):
		default:
			return false
		}
	}
	return true
}
