package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// responseHead is a backend response's head as the fast path relays it:
// its header lines copied out of the backend connection's buffer, with
// what the relay needs to know about them.
type responseHead struct {
	status  int
	length  int64 // Content-Length; -1 without one
	chunked bool
	close   bool // the backend does not keep the connection
	stream  bool // text/event-stream: flushed as it comes
	hasDate bool
	raw     []byte     // the header lines, back to back, without CRLF
	lines   []respLine // in raw
	conn    [][2]int   // names Connection lists, in raw
	scratch []byte     // readLine's, for long lines
}

type respLine struct {
	start, end, nameEnd int
	keep                bool
	trailer             bool // Trailer: kept when the body is chunked
}

func (h *responseHead) name(l *respLine) []byte { return h.raw[l.start:l.nameEnd] }

// listed reports whether the response's Connection header lists name.
func (h *responseHead) listed(name []byte) bool {
	for _, s := range h.conn {
		if bytes.EqualFold(h.raw[s[0]:s[1]], name) {
			return true
		}
	}
	return false
}

var errMalformedResponse = errors.New("backend sent a malformed HTTP/1.x response head")

// Response header kinds.
const (
	rOther uint8 = iota
	rLength
	rTransferEncoding
	rConnection
	rDrop
	rTrailer
	rDate
	rContentType
)

// read reads a response head (status line, header lines, empty line)
// from br.
func (h *responseHead) read(br *bufio.Reader) error {
	h.status, h.length, h.chunked, h.close, h.stream, h.hasDate = 0, -1, false, false, false, false
	h.raw, h.lines, h.conn = h.raw[:0], h.lines[:0], h.conn[:0]
	l, err := readLine(br, &h.scratch, maxResponseHeader)
	if err != nil {
		if err == io.EOF && len(l) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	l = trimEOL(l)
	proto10 := false
	switch {
	case bytes.HasPrefix(l, []byte("HTTP/1.1 ")):
	case bytes.HasPrefix(l, []byte("HTTP/1.0 ")):
		proto10 = true
	default:
		return errMalformedResponse
	}
	l = l[9:]
	if len(l) < 3 || (len(l) > 3 && l[3] != ' ') {
		return errMalformedResponse
	}
	for _, c := range l[:3] {
		if c < '0' || c > '9' {
			return errMalformedResponse
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 100 {
		return errors.New("backend sent an invalid status code " + strconv.Itoa(h.status))
	}
	keepAlive, hadLength := false, false
	for {
		l, err := readLine(br, &h.scratch, maxResponseHeader)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		l = trimEOL(l)
		if len(l) == 0 {
			break
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !isToken(l[:colon]) {
			return errMalformedResponse // no name, obs-fold
		}
		value := trimOWS(l[colon+1:])
		if !fieldValue(value) {
			return errMalformedResponse
		}
		start := len(h.raw)
		h.raw = append(h.raw, l...)
		line := respLine{start: start, end: len(h.raw), nameEnd: start + colon, keep: true}
		switch responseKinds.kind(l[:colon]) {
		case rLength:
			n, ok := parseLength(value)
			if !ok || (hadLength && n != h.length) {
				return errMalformedResponse
			}
			h.length, hadLength, line.keep = n, true, false
		case rTransferEncoding:
			if proto10 {
				// HTTP/1.0 has no transfer codings: the field is
				// dropped and the body framed without it, as Go's
				// reader (net/http's path) does, and the connection
				// is not reused after such a response.
				h.close, line.keep = true, false
				break
			}
			if !asciiEqualFold(value, "chunked") || h.chunked {
				return errors.New("backend sent an unsupported Transfer-Encoding")
			}
			h.chunked, line.keep = true, false
		case rConnection:
			line.keep = false
			vstart := len(h.raw) - (len(l) - (colon + 1)) // the value, untrimmed, in raw
			for i := vstart; i < len(h.raw); {
				j := bytes.IndexByte(h.raw[i:], ',')
				end := len(h.raw)
				if j >= 0 {
					end = i + j
				}
				s, e := i, end
				for s < e && (h.raw[s] == ' ' || h.raw[s] == '\t') {
					s++
				}
				for e > s && (h.raw[e-1] == ' ' || h.raw[e-1] == '\t') {
					e--
				}
				switch tok := h.raw[s:e]; {
				case len(tok) == 0:
				case asciiEqualFold(tok, "close"):
					h.close = true
				case asciiEqualFold(tok, "keep-alive"):
					keepAlive = true
				default:
					h.conn = append(h.conn, [2]int{s, e})
				}
				i = end + 1
			}
		case rDrop:
			line.keep = false
		case rTrailer:
			line.trailer = true
		case rDate:
			h.hasDate = true
		case rContentType:
			h.stream = len(value) >= 17 && asciiEqualFold(value[:17], "text/event-stream")
		}
		h.lines = append(h.lines, line)
	}
	if h.chunked {
		if hadLength {
			h.close = true // framed two ways: not reused
		}
		h.length = -1
	} else {
		for i := range h.lines {
			if h.lines[i].trailer {
				h.lines[i].keep = false
			}
		}
	}
	if proto10 && !keepAlive {
		h.close = true
	}
	return nil
}

// responseKinds are the response headers the relay tells apart.
var responseKinds = newKindTable(rOther, map[string]uint8{
	"content-length": rLength, "transfer-encoding": rTransferEncoding, "connection": rConnection,
	"te": rDrop, "upgrade": rDrop, "keep-alive": rDrop, "proxy-connection": rDrop,
	"proxy-authenticate": rDrop, "proxy-authorization": rDrop, "x-request-id": rDrop,
	"trailer": rTrailer, "date": rDate, "content-type": rContentType,
})

func trimEOL(l []byte) []byte {
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r"))
}

// statusLines are the status lines the fast path writes, as net/http
// writes them.
var statusLines = func() (t [600][]byte) {
	for code := 100; code < 600; code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		t[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
	}
	return t
}()

func statusLine(code int) []byte {
	if code >= 100 && code < 600 {
		return statusLines[code]
	}
	return []byte("HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n")
}

// httpDate is the Date header's value for now, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	if d := cachedDate.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateText{sec: now.Unix(), text: now.UTC().AppendFormat(nil, http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text []byte
}

var cachedDate atomic.Pointer[dateText]
