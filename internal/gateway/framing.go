package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
)

// StrictListener wraps the plain-HTTP listener the gateway is served on
// so that requests whose length two HTTP parsers could read differently
// are answered 400 and the connection closed, before net/http parses
// them. Such a request is how one smuggles a second request past a proxy
// in front (request smuggling). It rejects a request with:
//
//   - both Content-Length and Transfer-Encoding (net/http would drop
//     Content-Length, use chunked and keep the connection open: RFC 9112
//     §6.3 allows that but requires closing the connection);
//   - Transfer-Encoding more than once, or other than exactly "chunked"
//     (net/http answers 501 to those);
//   - Transfer-Encoding in an HTTP/1.0 request (net/http ignores it; RFC
//     9112 §6.1 says the framing is faulty);
//   - a header line folded onto the previous one (obs-fold, a line
//     starting with a space or tab; net/http unfolds it, RFC 9112 §5.2
//     lets a server reject it).
//
// Other malformed requests (two different Content-Lengths, bad lengths,
// bad chunks, invalid header names) net/http rejects itself.
//
// It follows each connection's requests and bodies without copying them
// or holding them back, except the start of a header line until its name
// is known (and a Transfer-Encoding line until its end), a few bytes. It
// stops looking at a connection it cannot follow: an Upgrade or CONNECT
// request (the connection may stop being HTTP), HTTP/2, or input net/http
// rejects anyway. A rejected request reaches net/http as an invalid
// header line, so that net/http answers 400 in order after any earlier
// pipelined responses, and closes the connection.
//
// The wrapped connections are not *tls.Conn: wrap a listener of plain
// HTTP. For HTTPS, StrictTLSListener terminates TLS and wraps the
// HTTP/1.x connections the same way.
//
// Its connections also take a per-route idle timeout; see ConnContext.
func StrictListener(ln net.Listener) net.Listener { return strictListener{ln} }

type strictListener struct{ net.Listener }

var (
	_ net.Listener = strictListener{}
	_ net.Conn     = (*strictConn)(nil)
)

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &strictConn{}
	sc.Conn = &boundConn{Conn: c, idle: &sc.idle}
	return sc, nil
}

// rejectedLine replaces a rejected request's offending header line: a
// line without a colon, which net/http answers with 400 and a close.
var rejectedLine = []byte("Rejected-Ambiguous-Framing\r\n")

// Read buffer sizes: reads into a buffer smaller than minDirectRead (the
// server's 1-byte background read) or while bytes are held go through a
// scratch buffer of scratchSize, allocated on first use.
const (
	minDirectRead = 128
	scratchSize   = 4 << 10
)

// strictConn is one connection of a StrictListener.
type strictConn struct {
	net.Conn
	f       framing
	held    []byte // scanned, withheld until the line they start is judged; in heldBuf
	heldBuf [maxHeld]byte
	out     []byte // released, did not fit the caller's buffer
	then    []byte // to hand over after out: rejectedLine
	err     error  // to return after out and then
	scratch []byte
	idle    atomic.Int64 // a time.Duration: the connection's idle timeout, 0 for the server's; see idle.go
}

func (c *strictConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) == 0 && len(c.then) > 0 {
			c.out, c.then = c.then, nil
		}
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		if c.f.state == stRejected {
			return 0, io.EOF
		}
		if c.f.state == stPassthrough && len(c.held) == 0 {
			return c.Conn.Read(p)
		}
		direct := len(c.held) == 0 && len(p) >= minDirectRead
		buf := p
		if !direct {
			if c.scratch == nil {
				c.scratch = make([]byte, scratchSize)
			}
			buf = c.scratch
		}
		h := copy(buf, c.held)
		n, err := c.Conn.Read(buf[h:])
		total := h + n
		release, reject := c.f.scan(buf[h:total])
		if err == io.EOF && !reject {
			release, c.f.held = total, 0 // an unfinished line cannot make a request
		}
		if reject {
			c.f.state = stRejected
			c.then = rejectedLine
			c.held = c.held[:0]
			c.err, err = err, nil // after rejectedLine
		} else {
			c.held = append(c.heldBuf[:0], buf[release:total]...)
		}
		if release == 0 {
			if err != nil {
				return 0, err
			}
			continue // all held, or rejected: read on, or hand over rejectedLine
		}
		if direct {
			return release, err
		}
		k := copy(p, buf[:release])
		if k < release {
			c.out = buf[k:release]
			if err != nil {
				c.err = err // after out
			}
			return k, nil
		}
		return k, err
	}
}

// CloseWrite lets net/http half-close the connection, as it does on a
// *net.TCPConn, before closing it.
func (c *strictConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// framing states.
const (
	stRequestLine  uint8 = iota
	stLineStart          // at the start of a header line, or of the blank line ending the head
	stHeadCR             // after the CR of the blank line
	stName               // in a header name that may be a watched one (held)
	stValue              // in a header value
	stBody               // in a Content-Length body
	stChunkSize          // in a chunk-size line
	stChunkExt           // in a chunk-size line's extensions
	stChunkSizeCR        // after a CR ending a chunk-size line
	stChunkData          // in a chunk's data
	stChunkCR            // expecting the CR after a chunk's data
	stChunkLF            // expecting the LF after a chunk's data
	stTrailerStart       // at the start of a trailer line, or of the blank line ending them
	stTrailerCR          // after the CR of the blank line ending the trailers
	stTrailerLine        // in a trailer line
	stPassthrough        // no longer looking
	stRejected
)

// Header kinds the framing watches.
const (
	kindOther uint8 = iota
	kindContentLength
	kindTransferEncoding
	kindUpgrade
)

// Bounds of what framing keeps of a line.
const (
	maxName     = len("transfer-encoding")
	maxValue    = 32 // of a Content-Length or Transfer-Encoding value
	maxHeld     = maxName + 1 + maxValue + 2
	maxChunkHex = 16
)

var watchedNames = [...]string{
	kindContentLength:    "content-length",
	kindTransferEncoding: "transfer-encoding",
	kindUpgrade:          "upgrade",
}

// framing follows the HTTP/1.1 requests of one connection as net/http
// will parse them: request line, headers, then a body by Content-Length
// or chunked, then the next request. It is fed the bytes in order and
// says how many the server may have and whether to reject the request.
type framing struct {
	state uint8
	held  int // trailing bytes scanned but withheld: the current header line

	// the request line
	method    [8]byte
	methodLen int
	methodEnd bool
	tail      [9]byte // the line's last bytes: the version (and a CR)
	tailLen   int

	// the headers
	http10    bool
	connect   bool // CONNECT or an Upgrade header: the connection may change protocol
	name      [maxName]byte
	nameLen   int
	kind      uint8
	value     [maxValue + 1]byte // and a CR
	valueLen  int
	seenCL    bool
	seenTE    bool
	unsure    bool // something net/http will reject: stop looking
	length    uint64
	chunked   bool
	remaining uint64 // of the body or the chunk
	hexDigits int
}

// scan reads b, the bytes that follow those scanned before. It returns
// how many bytes, counted from the first withheld one (or from b[0] when
// none is), the server may have now; the others are withheld. When
// reject is true the request must be rejected: release counts the bytes
// before its offending line, and the rest must be dropped.
//
// It is long on purpose: one loop over one switch with a case per state,
// so that the grammar it follows (RFC 9112 as net/http reads it) is in
// one place; what is not about moving between states is in helpers.
func (f *framing) scan(b []byte) (release int, reject bool) {
	base := f.held // offset of b[0] from the first withheld byte
	lineStart := 0 // offset of the withheld line's first byte
	for i := 0; i < len(b); {
		switch f.state {
		case stPassthrough, stRejected:
			f.held = 0
			return base + len(b), false

		case stRequestLine:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				f.requestLine(b[i:])
				i = len(b)
				continue
			}
			f.requestLine(b[i : i+j])
			i += j + 1
			f.endRequestLine()

		case stLineStart:
			switch c := b[i]; c {
			case '\r':
				f.state = stHeadCR
				i++
			case '\n':
				f.endHead()
				i++
			case ' ', '\t': // obs-fold
				return base + i, true
			default:
				lineStart = base + i
				f.nameLen, f.valueLen, f.kind = 0, 0, kindOther
				f.state = stName
			}

		case stHeadCR:
			if b[i] != '\n' {
				f.state = stPassthrough // net/http rejects a lone CR
				continue
			}
			f.endHead()
			i++

		case stName:
			c := b[i]
			if c == ':' {
				i++
				if f.reject(f.watched()) {
					return lineStart, true
				}
				f.state = stValue
				continue
			}
			if c == '\n' {
				f.state = stPassthrough // no colon: net/http rejects it
				continue
			}
			if f.nameLen == maxName || !f.appendName(c) {
				f.kind = kindOther // not a name we watch
				f.state = stValue
				continue
			}
			i++

		case stValue:
			j := bytes.IndexByte(b[i:], '\n')
			seg := b[i:]
			if j >= 0 {
				seg = b[i : i+j]
			}
			if f.kind == kindContentLength || f.kind == kindTransferEncoding {
				if f.valueLen+len(seg) > len(f.value) {
					if f.kind == kindTransferEncoding {
						return lineStart, true // too long to be "chunked"
					}
					f.unsure = true
					f.kind = kindOther
				} else {
					f.valueLen += copy(f.value[f.valueLen:], seg)
				}
			}
			if j < 0 {
				i = len(b)
				continue
			}
			i += j + 1
			if !f.endValue() {
				return lineStart, true
			}
			f.state = stLineStart

		case stBody, stChunkData:
			n := uint64(len(b) - i)
			if n > f.remaining {
				n = f.remaining
			}
			i += int(n)
			f.remaining -= n
			if f.remaining > 0 {
				continue
			}
			if f.state == stBody {
				f.state = stRequestLine
			} else {
				f.state = stChunkCR
			}

		case stChunkSize:
			c := b[i]
			i++
			switch {
			case hexValue(c) >= 0 && f.hexDigits < maxChunkHex:
				f.remaining = f.remaining<<4 | uint64(hexValue(c))
				f.hexDigits++
			case c == ';' && f.hexDigits > 0:
				f.state = stChunkExt
			case c == '\r' && f.hexDigits > 0:
				f.state = stChunkSizeCR
			default: // net/http rejects the rest, a bare LF included
				f.state = stPassthrough // net/http rejects it
			}

		case stChunkExt:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				i = len(b)
				continue
			}
			i += j + 1
			f.endChunkSize()

		case stChunkSizeCR:
			if b[i] != '\n' {
				f.state = stPassthrough
				continue
			}
			i++
			f.endChunkSize()

		case stChunkCR, stChunkLF:
			want := byte('\r')
			if f.state == stChunkLF {
				want = '\n'
			}
			if b[i] != want {
				f.state = stPassthrough // net/http rejects it
				continue
			}
			i++
			if f.state == stChunkCR {
				f.state = stChunkLF
			} else {
				f.state, f.remaining, f.hexDigits = stChunkSize, 0, 0
			}

		case stTrailerStart:
			switch b[i] {
			case '\r':
				f.state = stTrailerCR
			case '\n':
				f.state = stRequestLine
			default:
				f.state = stTrailerLine
			}
			i++

		case stTrailerCR:
			if b[i] != '\n' {
				f.state = stPassthrough
				continue
			}
			i++
			f.state = stRequestLine

		case stTrailerLine:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				i = len(b)
				continue
			}
			i += j + 1
			f.state = stTrailerStart
		}
	}
	if f.state == stName || f.state == stValue && f.kind == kindTransferEncoding {
		f.held = base + len(b) - lineStart
		return lineStart, false
	}
	f.held = 0
	return base + len(b), false
}

// requestLine takes in part of the request line (without its LF).
func (f *framing) requestLine(seg []byte) {
	for k := 0; k < len(seg) && !f.methodEnd; k++ {
		if seg[k] == ' ' {
			f.methodEnd = true
		} else if f.methodLen < len(f.method) {
			f.method[f.methodLen] = seg[k]
			f.methodLen++
		} else {
			f.methodLen = len(f.method) + 1 // too long for the methods we look for
		}
	}
	if len(seg) >= len(f.tail) {
		f.tailLen = copy(f.tail[:], seg[len(seg)-len(f.tail):])
		return
	}
	keep := min(f.tailLen, len(f.tail)-len(seg))
	copy(f.tail[:], f.tail[f.tailLen-keep:f.tailLen])
	f.tailLen = keep + copy(f.tail[keep:], seg)
}

// endRequestLine judges the request line: HTTP/1.x is followed, anything
// else (HTTP/2's preface, garbage net/http rejects) is not.
func (f *framing) endRequestLine() {
	v := f.tail[:f.tailLen]
	v = bytes.TrimSuffix(v, []byte{'\r'})
	method := string(f.method[:min(f.methodLen, len(f.method))])
	f.methodLen, f.methodEnd, f.tailLen = 0, false, 0
	if len(v) < 8 || !bytes.HasPrefix(v[len(v)-8:], []byte("HTTP/1.")) || v[len(v)-1] < '0' || v[len(v)-1] > '9' {
		f.state = stPassthrough
		return
	}
	f.http10 = v[len(v)-1] == '0'
	f.connect = method == "CONNECT"
	f.state = stLineStart
}

// appendName adds c to the header name and reports whether the name may
// still be one that is watched.
func (f *framing) appendName(c byte) bool {
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	f.name[f.nameLen] = c
	f.nameLen++
	name := f.name[:f.nameLen]
	for _, w := range watchedNames[1:] {
		if len(name) <= len(w) && string(name) == w[:len(name)] {
			return true
		}
	}
	return false
}

// watched returns the kind of the complete header name.
func (f *framing) watched() uint8 {
	for k, w := range watchedNames {
		if k != int(kindOther) && string(f.name[:f.nameLen]) == w {
			return uint8(k)
		}
	}
	return kindOther
}

// reject records a header of kind and reports whether its presence alone
// makes the request ambiguous.
func (f *framing) reject(kind uint8) bool {
	f.kind = kind
	switch kind {
	case kindContentLength:
		if f.seenTE {
			return true
		}
		f.seenCL = true
	case kindTransferEncoding:
		if f.seenCL || f.seenTE || f.http10 {
			return true
		}
		f.seenTE = true
	case kindUpgrade:
		f.connect = true
	}
	return false
}

// endValue judges a complete Content-Length or Transfer-Encoding value;
// false rejects the request.
func (f *framing) endValue() bool {
	v := bytes.Trim(bytes.TrimSuffix(f.value[:f.valueLen], []byte{'\r'}), " \t")
	switch f.kind {
	case kindTransferEncoding:
		if !bytes.EqualFold(v, []byte("chunked")) {
			return false
		}
		f.chunked = true
	case kindContentLength:
		var n uint64
		for _, c := range v {
			if c < '0' || c > '9' || n > 1<<59 {
				f.unsure = true // net/http rejects it
				return true
			}
			n = n*10 + uint64(c-'0')
		}
		if len(v) == 0 || f.length != 0 && f.length != n {
			f.unsure = true // empty, or two lengths: net/http rejects it
		}
		f.length = n
	}
	return true
}

// endHead starts on the body, if any, or the next request.
func (f *framing) endHead() {
	switch {
	case f.unsure || f.connect:
		f.state = stPassthrough
	case f.chunked:
		f.state, f.remaining, f.hexDigits = stChunkSize, 0, 0
	case f.length > 0:
		f.state, f.remaining = stBody, f.length
	default:
		f.state = stRequestLine
	}
	f.http10, f.connect, f.unsure = false, false, false
	f.seenCL, f.seenTE, f.chunked, f.length = false, false, false, 0
}

// endChunkSize starts on the chunk's data, or on the trailers after the
// last chunk.
func (f *framing) endChunkSize() {
	if f.remaining == 0 {
		f.state = stTrailerStart
		return
	}
	f.state = stChunkData
}

// hexValue is c's value as a hex digit, or -1.
func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
