package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// fastConn is one client connection served by the fast path (see
// Frontend): a goroutine reading request heads into buf, and answering
// each before it reads the next.
type fastConn struct {
	f       *Frontend
	c       net.Conn
	buf     []byte // requests read and not yet served are buf[r:w]
	r, w    int
	scanned int // how much of buf[r:w] was searched for a head's end
	out     *bufio.Writer
	answers func() error // sendAnswers, made once
	cr      *waitReader  // nil: c is not a polled socket
	resp    fastResponse // the gateway's own answers (errors, refusals)
	req     fastRequest
	rhead   responseHead
	x       exchange
	peer    string // the client's IP: X-Forwarded-For and the access log
	hasPeer bool
	// trustedPeer: the peer is one of Config.TrustedProxies, whose
	// X-Forwarded-* net/http's path knows how to believe.
	trustedPeer bool
	idle        time.Duration // after the current request: its route's IdleTimeout
	wb          writeBound    // how long a write to the client may block (writestall.go)
	hostKey     []byte        // the last Host, and its string: most connections ask one host
	host        string
	pathKey     []byte // the last path, and its unescaped string
	path        string

	clock phaseClock // what the connection waits for, for the sweeper (fastclock.go)
}

// peerOf works out a connection's client address as forwardedValues and
// ClientIP do for its requests.
func peerOf(c net.Conn, g *Gateway) (peer string, ok, trusted bool) {
	return peerOfAddr(c.RemoteAddr().String(), g)
}

// peerOfAddr is peerOf for a connection's remote address, host:port.
func peerOfAddr(remote string, g *Gateway) (peer string, ok, trusted bool) {
	if len(g.trusted) == 0 {
		host, _, err := net.SplitHostPort(remote)
		return host, err == nil, false
	}
	a, ok := parseHop(remote)
	if !ok {
		return "", false, false
	}
	return a.String(), true, inPrefixes(a, g.trusted)
}

// Outcomes of a request.
const (
	keepOpen = iota
	closeConn
	handOff
)

func (fc *fastConn) serve() { fc.serveAfter(nil) }

// serveAfter serves the connection after first, the end of an exchange
// an event loop began (evloop_linux.go), when not nil.
func (fc *fastConn) serveAfter(first func() int) {
	handed := false
	defer func() {
		if !handed {
			fc.out.Flush()
			fc.c.Close()
		}
		fc.f.forget(fc)
	}()
	if first == nil && fc.trustedPeer {
		handed = fc.handOff()
		return
	}
	for {
		var outcome int
		if first != nil {
			outcome, first = first(), nil
		} else {
			n, st := fc.readHead()
			switch st {
			case headClosed:
				return
			case headOther, headTooLarge:
				// net/http answers a head over the limit (431, closing
				// the connection gently) as it did before the fast path.
				handed = fc.handOff()
				return
			}
			if !parseHead(fc.buf[fc.r:fc.r+n], &fc.req) {
				handed = fc.handOff()
				return
			}
			outcome = fc.serveRequest(n)
		}
		switch outcome {
		case closeConn:
			return
		case handOff:
			handed = fc.handOff()
			return
		}
		if fc.f.closing.Load() {
			return
		}
	}
}

// handOff gives the connection, with what was read of it and not
// served, to net/http. It reports whether net/http took it.
func (fc *fastConn) handOff() bool {
	if fc.out.Flush() != nil {
		return false
	}
	pending := fc.buf[fc.r:fc.w]
	return fc.f.handOff(&prefixConn{Conn: fc.c, pending: pending})
}

func (fc *fastConn) idleTimeout() time.Duration { return idleOr(fc.idle) }

const (
	headOK = iota
	headClosed
	headTooLarge
	headOther
)

// readHead reads until buf[r:] starts with a whole request head, and
// returns its length. The wait for a request's first byte is bounded by
// the idle timeout, the rest of its head by ReadHeaderTimeout (against
// slowloris), and its size by MaxHeaderBytes.
func (fc *fastConn) readHead() (int, int) {
	headerPhase, waitFirst := false, false
	defer fc.leave()
	for {
		data := fc.buf[fc.r:fc.w]
		if len(data) > 0 {
			from := max(fc.scanned-3, 0)
			if i := bytes.Index(data[from:], crlfcrlf); i >= 0 {
				fc.scanned = 0
				return from + i + 4, headOK
			}
			if bareLF(data) {
				// Lines ended by bare line feeds: net/http's, which ends
				// the head at the first empty line, "\n" or "\r\n".
				return 0, headOther
			}
			fc.scanned = len(data)
			if len(data) >= MaxHeaderBytes {
				return 0, headTooLarge
			}
			if fc.out.Buffered() > 0 && fc.out.Flush() != nil {
				return 0, headClosed
			}
			if !headerPhase {
				fc.enter(phaseHead, fc.f.headerTimeout, nil)
				headerPhase = true
			}
			if fc.w == len(fc.buf) {
				if fc.r > 0 {
					fc.w = copy(fc.buf, data)
					fc.r = 0
				} else {
					grown := make([]byte, min(2*len(fc.buf), MaxHeaderBytes+4<<10))
					copy(grown, data)
					fc.buf = grown
				}
			}
		} else {
			fc.r, fc.w, fc.scanned = 0, 0, 0
			// Nothing of the next request was read: the answers go
			// out as the read begins (see waitReader).
			waitFirst = fc.cr != nil && fc.out.Buffered() > 0
			if !waitFirst && fc.out.Buffered() > 0 && fc.out.Flush() != nil {
				return 0, headClosed
			}
			fc.enter(phaseIdle, fc.idleTimeout(), nil)
			if fc.f.closing.Load() {
				return 0, headClosed
			}
		}
		var n int
		var err error
		if waitFirst {
			waitFirst = false
			n, err = fc.cr.read(fc.buf[fc.w:], fc.answers, false)
		} else {
			n, err = fc.c.Read(fc.buf[fc.w:])
		}
		fc.w += n
		if n == 0 && err != nil {
			if fc.clock.poked(fc.c) {
				// Bytes came unheard of (or the poke came as a read
				// ended): a plain read takes them.
				continue
			}
			return 0, headClosed
		}
	}
}

// sendAnswers is readHead's send for its waitReader: within the read,
// once the wait has begun, it lets the sweeper peek (see unheard), then
// flushes the answers.
func (fc *fastConn) sendAnswers() error {
	fc.unheard()
	return fc.out.Flush()
}

// bareLF reports whether b has a LF without a CR before it.
func bareLF(b []byte) bool {
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return true
		}
	}
}

// serveRequest answers the parsed request whose head is the first
// headLen bytes of buf[r:], unless it hands it (and the connection) to
// net/http, which it decides before reading anything more.
func (fc *fastConn) serveRequest(headLen int) int {
	g := fc.f.g
	req := &fc.req
	host := fc.hostString(req.host)
	path, ok := fc.pathString(req)
	if !ok {
		return handOff // net/http answers 400
	}
	if fc.f.bypass != nil && fc.f.bypass(host, path) {
		return handOff
	}
	wr := g.wrapped.Load()
	route, found := wr.table.Lookup(host)
	if found && !fastRoute(route, path) {
		return handOff
	}

	x := &fc.x
	*x = exchange{w: &fc.resp, start: time.Now(), path: path}
	fc.setRequestID()
	fc.idle = 0
	if found {
		fc.idle = route.IdleTimeout
	}
	defer fc.report()

	var body []byte
	var pooled *[fastBodyMax]byte
	if req.contentLength > 0 {
		var err error
		body, pooled, err = fc.readBody(headLen, route)
		if pooled != nil {
			defer g.fwd.bodies.Put(pooled)
		}
		if err != nil {
			if found && route.Timeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				x.route = route
				g.proxyFailed(context.Background(), x, context.DeadlineExceeded) // 504, as forwardFast
				fc.writeResp(true)
			} else {
				x.status = StatusClientClosedRequest // the client stopped sending
			}
			return closeConn
		}
	} else {
		fc.r += headLen
	}
	closeAfter := req.close

	if !found {
		x.fail(failure{http.StatusNotFound, CodeNotFound, notFoundMessage(normalizeHost(host), g.domain)})
		return fc.writeResp(closeAfter)
	}
	x.route = route
	if route.Admit != nil && !fc.admit(route) {
		return fc.writeResp(closeAfter)
	}
	return fc.forward(body, closeAfter)
}

// admit makes route's checks of the head (Route.Admit). false: they
// refused the request, and resp holds the answer.
func (fc *fastConn) admit(route *Route) bool {
	a := route.Admit(AdmitRequest{APIKey: string(fc.req.apiKey), ContentLength: fc.req.contentLength})
	fc.x.apiKey = a.APIKeyName
	if a.Status == 0 {
		return true
	}
	for k, v := range a.Header {
		fc.resp.h[k] = v
	}
	fc.x.WriteHeader(a.Status)
	fc.x.Write(a.Body)
	return false
}

// fastRoute reports whether the fast path can serve route's requests
// for path.
func fastRoute(r *Route, path string) bool {
	if r.Upstreams != nil || r.Sticky > 0 || (r.Middleware != nil && r.Admit == nil) {
		return false
	}
	if len(r.Paths) > 0 {
		if _, ok := r.match(path); ok {
			return false
		}
	}
	for i := range r.Backends {
		if r.Backends[i].Serve != nil {
			return false
		}
	}
	return true
}

// hostString returns h as a string, reusing the last one's.
func (fc *fastConn) hostString(h []byte) string {
	if fc.host == "" || !bytes.Equal(h, fc.hostKey) {
		fc.host = string(h)
		fc.hostKey = append(fc.hostKey[:0], h...)
	}
	return fc.host
}

// pathString returns the request's unescaped path, reusing the last
// one's.
func (fc *fastConn) pathString(req *fastRequest) (string, bool) {
	if fc.path != "" && bytes.Equal(req.path, fc.pathKey) {
		return fc.path, true
	}
	p, ok := req.unescapedPath()
	if ok {
		fc.path = p
		fc.pathKey = append(fc.pathKey[:0], req.path...)
	}
	return p, ok
}

// setRequestID gives the exchange the client's X-Request-Id when it is
// sane, else a new one.
func (fc *fastConn) setRequestID() {
	x := &fc.x
	if id := fc.req.requestID; len(id) > 0 && saneRequestID(string(id)) {
		x.id[0] = string(id)
	} else {
		x.id[0] = newRequestID()
	}
	x.requestID = x.id[:1:1]
}

// readBody reads the request's body, of at most fastBodyMax bytes,
// after the head: in buf when it fits, else in a pooled buffer. The
// route's timeout, or the idle timeout, bounds a client that stalls.
func (fc *fastConn) readBody(headLen int, route *Route) ([]byte, *[fastBodyMax]byte, error) {
	n := int(fc.req.contentLength)
	start := fc.r + headLen
	have := fc.w - start
	if have >= n {
		fc.r = start + n
		return fc.buf[start : start+n], nil, nil
	}
	// The answers to pipelined requests before this one must not wait
	// for the rest of its body.
	if fc.out.Buffered() > 0 {
		if err := fc.out.Flush(); err != nil {
			return nil, nil, err
		}
	}
	limit := fc.idleTimeout()
	if route != nil && route.Timeout > 0 {
		limit = max(time.Until(fc.x.start.Add(route.Timeout)), time.Nanosecond)
	}
	fc.enter(phaseBody, limit, nil)
	defer fc.leave()
	if start+n <= len(fc.buf) {
		// The reads may bring the next request's bytes too.
		m, err := io.ReadAtLeast(fc.c, fc.buf[fc.w:], start+n-fc.w)
		fc.w += m
		if err != nil {
			return nil, nil, err
		}
		fc.r = start + n
		return fc.buf[start : start+n], nil, nil
	}
	pooled := fc.f.g.fwd.bodies.Get().(*[fastBodyMax]byte)
	copy(pooled[:], fc.buf[start:fc.w])
	if _, err := io.ReadFull(fc.c, pooled[have:n]); err != nil {
		return nil, pooled, err
	}
	fc.r = fc.w // all of it was body; a watch may append after it
	return pooled[:n], pooled, nil
}

// acquire picks an instance of the exchange's route from the gateway's
// balancer. ok false: there is none, and the gateway's answer
// (acquireFailed's) waits in fc.resp.
func (fc *fastConn) acquire(ctx context.Context) (backend Backend, release func(), ok bool) {
	g, x := fc.f.g, &fc.x
	x.upstreams = g.upstreams
	backend, release, err := x.upstreams.Acquire(ctx, x.route)
	if err == nil && backend.Addr == "" {
		err = ErrNoBackend
	}
	if err != nil {
		g.acquireFailed(ctx, x, x, x.route, err, release)
		return Backend{}, nil, false
	}
	return backend, release, true
}

// forward sends the request to an instance of its route and relays the
// response, retrying on other instances as forwardFast does.
func (fc *fastConn) forward(body []byte, closeAfter bool) int {
	x := &fc.x
	ctx := context.Background()
	backend, release, ok := fc.acquire(ctx)
	if !ok {
		return fc.writeResp(closeAfter)
	}
	x.backend, x.release = backend, release
	defer x.releaseBackend()
	// The answers to pipelined requests before this one must not wait
	// for its backend.
	if fc.out.Buffered() > 0 && fc.out.Flush() != nil {
		x.status = StatusClientClosedRequest
		return closeConn
	}
	x.fwd[1] = fc.host
	x.fwd[2] = "http"
	x.fwd[0] = fc.peer
	return fc.attempt(body, closeAfter)
}

// attempt makes round trips for the exchange until one gets a response,
// which it relays, or the retries end.
func (fc *fastConn) attempt(body []byte, closeAfter bool) int {
	g, x := fc.f.g, &fc.x
	ctx := context.Background()
	for {
		x.attempts++
		uc, err := fc.roundTrip(body)
		if err == nil {
			return fc.relay(uc, closeAfter)
		}
		if errors.Is(err, errClientGone) {
			x.status = StatusClientClosedRequest
			return closeConn
		}
		if err := g.nextAttempt(ctx, x, fc.req.method, nil, err); err != nil {
			g.proxyFailed(ctx, x, err)
			return fc.writeResp(closeAfter)
		}
	}
}

// idempotent is idempotent(r) for the fast path's request (whose
// Connection header never lists anything but close and keep-alive).
func (fc *fastConn) idempotent() bool {
	switch fc.req.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return fc.req.idempotentKey
}

// roundTrip sends the request on a connection to x.backend and reads
// the response's head into rhead, as forwarder.roundTrip does.
func (fc *fastConn) roundTrip(body []byte) (*upstreamConn, error) {
	f := fc.f.g.fwd
	for {
		uc, err := f.get(context.Background(), fc.x.backend.Addr, true)
		if err != nil {
			return nil, err
		}
		err = fc.exchangeHead(uc, body)
		if err == nil {
			return uc, nil
		}
		uc.conn.Close()
		if errors.Is(err, errStaleConn) {
			continue // nothing was sent on it
		}
		if !uc.closedWhileIdle(err) || !fc.idempotent() {
			return nil, err
		}
	}
}

// exchangeHead writes the request on uc and reads the final response's
// head, passing 1xx informational responses (but 101) to the client.
// The response-header timeout and the route's timeout bound it, through
// the sweeper, which also watches the client while a backend is slow.
func (fc *fastConn) exchangeHead(uc *upstreamConn, body []byte) (err error) {
	fc.enter(phaseBackend, fc.backendLimit(), uc)
	defer fc.leaveBackend(uc, &err)
	uc.lr.read = 0
	// The first read of the response may send the request (after a peek
	// at a reused connection), then wait for the response, when nothing
	// of the request goes out before: a request too large for bw is
	// written in part or whole as it is written, and its response could
	// come before that read began, unheard of, or be taken by the peek
	// for bytes sent unasked (and the request sent again). Such a
	// request is written after the peek get left to this exchange, and
	// its response read plainly. So is a new connection's first: a
	// backend that speaks first would not be heard of.
	peekHere := uc.reused && uc.lr.wr != nil // get left the peek to this exchange
	wait := peekHere && uc.br.Buffered() == 0 && fc.requestFits(uc.bw, body)
	if peekHere && !wait && !uc.stillOpen() {
		return errStaleConn
	}
	fc.writeRequest(uc.bw, body)
	if wait {
		uc.lr.send = uc.flush
		defer func() { uc.lr.send = nil }()
	} else if err := uc.bw.Flush(); err != nil {
		return err
	}
	return fc.readFinalHead(uc)
}

// backendLimit is how long an exchange may wait for its response's head
// from now: the response-header timeout, or what is left of the route's
// timeout when that is less.
func (fc *fastConn) backendLimit() time.Duration {
	limit := fc.f.g.fwd.responseHeaderMax
	if t := fc.x.route.Timeout; t > 0 {
		if rest := time.Until(fc.x.start.Add(t)); limit <= 0 || rest < limit {
			limit = max(rest, time.Nanosecond)
		}
	}
	return limit
}

// leaveBackend ends the wait for uc's response head that enter began,
// turning into *err a client that left or a head that came too late.
func (fc *fastConn) leaveBackend(uc *upstreamConn, err *error) {
	timedOut, gone := fc.leave()
	switch {
	case gone:
		uc.conn.Close()
		*err = errClientGone
	case timedOut && *err == nil:
		// The head came as the sweeper ended the wait: late all
		// the same, and uc's deadline is spent.
		uc.conn.Close()
		*err = os.ErrDeadlineExceeded
	}
}

// readFinalHead reads the final response's head from uc, passing 1xx
// informational responses (but 101) to the client.
func (fc *fastConn) readFinalHead(uc *upstreamConn) error {
	x := &fc.x
	uc.lr.n = maxResponseHeader
	for {
		if err := fc.rhead.read(uc.br); err != nil {
			return err
		}
		st := fc.rhead.status
		if st >= 200 || st == http.StatusSwitchingProtocols {
			uc.lr.n = -1
			return nil
		}
		x.informed = true
		fc.writeResponseHead(true, false)
		if fc.out.Flush() != nil {
			return errClientGone
		}
	}
}

var errClientGone = errors.New("client closed the connection")

// requestFits reports whether the request writeRequest writes, with
// body, surely fits in bw's free space, so that none of it reaches the
// connection before bw is flushed. Its request line and Host line are
// framed as the client's were, its other header lines are some of the
// client's, and writeRequestTail adds its lines and the body: 256 bytes
// are more than the framing and names of all of them.
func (fc *fastConn) requestFits(bw *bufio.Writer, body []byte) bool {
	req, x := &fc.req, &fc.x
	n := 256 + len(req.method) + len(req.target) + len(req.host) + len(body) +
		len(x.fwd[0]) + len(x.fwd[1]) + len(x.fwd[2]) + len(x.requestID[0])
	for i := range req.n {
		n += len(req.headers[i].line) + 2
	}
	return n <= bw.Available()
}

// writeRequest writes the request as writeRequest does for net/http's:
// hop-by-hop headers dropped, the client's X-Forwarded-* and Forwarded
// replaced by the gateway's, X-Request-Id set, Host kept.
func (fc *fastConn) writeRequest(bw *bufio.Writer, body []byte) {
	req, x := &fc.req, &fc.x
	bw.WriteString(req.method)
	bw.WriteByte(' ')
	bw.Write(req.target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.Write(req.host)
	bw.WriteString("\r\n")
	for i := range req.n {
		if h := &req.headers[i]; h.kind == hOther || h.kind == hIdempotent {
			bw.Write(h.line)
			bw.WriteString("\r\n")
		}
	}
	writeRequestTail(bw, x, fc.hasPeer, req.method, body)
}

// retryExchange goes on, on the connection's goroutine, with an
// exchange whose attempt an event loop made failed with err before any
// byte of a response (evloop_linux.go): as forward after a failed round
// trip.
func (fc *fastConn) retryExchange(err error) int {
	g, x := fc.f.g, &fc.x
	defer fc.report()
	defer x.releaseBackend()
	ctx := context.Background()
	if err := g.nextAttempt(ctx, x, fc.req.method, nil, err); err != nil {
		g.proxyFailed(ctx, x, err)
		return fc.writeResp(fc.req.close)
	}
	return fc.attempt(nil, fc.req.close)
}

// resumeExchange ends, on the connection's goroutine, an exchange an
// event loop began and handed over (evloop_linux.go): its request was
// sent on uc, whose reads replay what the loop read of the response. It
// reads the response's head as exchangeHead does, until deadline (none
// when zero), and relays the response; a backend failing then gets the
// answer forward gives after its last attempt.
func (fc *fastConn) resumeExchange(uc *upstreamConn, deadline time.Time) int {
	x := &fc.x
	defer fc.report()
	defer x.releaseBackend()
	err := func() (err error) {
		var limit time.Duration
		if !deadline.IsZero() {
			limit = max(time.Until(deadline), time.Nanosecond)
		}
		fc.enter(phaseBackend, limit, uc)
		defer fc.leaveBackend(uc, &err)
		return fc.readFinalHead(uc)
	}()
	if err != nil {
		uc.conn.Close()
		if errors.Is(err, errClientGone) {
			x.status = StatusClientClosedRequest
			return closeConn
		}
		fc.f.g.proxyFailed(context.Background(), x, err)
		return fc.writeResp(fc.req.close)
	}
	fc.rhead.close = true // uc replays the loop's bytes: not pooled
	return fc.relay(uc, fc.req.close)
}

// relay sends the response whose head is in rhead, and its body, to the
// client, and pools uc when the body was read to its end and the
// backend keeps the connection.
func (fc *fastConn) relay(uc *upstreamConn, closeAfter bool) int {
	g, x, h := fc.f.g, &fc.x, &fc.rhead
	if h.status == http.StatusSwitchingProtocols {
		uc.conn.Close() // nothing asked to switch (upgrades do not come here)
		g.proxyFailed(context.Background(), x, errors.New("backend switched protocols unasked"))
		return fc.writeResp(closeAfter)
	}
	closeAfter = closeAfter || fc.f.closing.Load()
	x.status = h.status
	fc.writeResponseHead(false, closeAfter)
	if t := x.route.Timeout; t > 0 {
		// The route's timeout bounds the body too: a response cut by it
		// is aborted, as on net/http's path.
		fc.enter(phaseRelay, max(time.Until(x.start.Add(t)), time.Nanosecond), uc)
	}
	done, clientGone := true, false
	switch {
	case fc.req.method == http.MethodHead || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
	case h.chunked:
		done, clientGone = fc.copyChunked(uc.br)
	case h.length >= 0:
		done, clientGone = fc.copyLength(uc.br, h.length)
	default:
		done, clientGone = fc.copyUntilEOF(uc.br)
		h.close = true
	}
	if x.route.Timeout > 0 {
		if timedOut, _ := fc.leave(); timedOut {
			done = false // uc's deadline is spent
		}
	}
	if done && !h.close && uc.br.Buffered() == 0 {
		g.fwd.put(uc)
	} else {
		uc.conn.Close()
	}
	if !done || clientGone {
		// The backend failed mid-body, or the client left: the response
		// must not look complete, so the connection ends here.
		return closeConn
	}
	if closeAfter {
		return closeConn
	}
	return keepOpen
}

// copyLength copies n body bytes. done: all were read; clientGone: a
// write to the client failed.
func (fc *fastConn) copyLength(br *bufio.Reader, n int64) (done, clientGone bool) {
	stream := fc.rhead.stream
	for n > 0 {
		if br.Buffered() == 0 && n >= int64(br.Size()) {
			// Large bodies skip the backend buffer; the client's
			// buffer writes them through when they exceed it.
			buf := fc.f.g.fwd.copies.Get().(*[proxyBufferSize]byte)
			m, err := br.Read(buf[:min(n, proxyBufferSize)])
			if m > 0 {
				n -= int64(m)
				if !fc.send(buf[:m], stream) {
					fc.f.g.fwd.copies.Put(buf)
					return false, true
				}
			}
			fc.f.g.fwd.copies.Put(buf)
			if err != nil && n > 0 {
				return false, false
			}
			continue
		}
		p, err := br.Peek(int(min(n, int64(max(br.Buffered(), 1)))))
		if len(p) > 0 {
			n -= int64(len(p))
			ok := fc.send(p, stream)
			br.Discard(len(p))
			if !ok {
				return false, true
			}
		}
		if err != nil && n > 0 {
			return false, false
		}
	}
	return true, false
}

// send writes p to the client, flushing when the body streams.
func (fc *fastConn) send(p []byte, flush bool) bool {
	if _, err := fc.out.Write(p); err != nil {
		return false
	}
	fc.x.bytes += int64(len(p))
	return !flush || fc.out.Flush() == nil
}

// copyChunked relays a chunked body as it is framed, flushing after
// every chunk (a body without a length streams, as in ReverseProxy),
// trailers included. Since its lines reach the client as they came, they
// must be read as net/http's chunked reader reads them, or refused (the
// response is then cut): a line a client or a proxy in front could end
// elsewhere (a bare LF, a stray CR) or a trailer section ended by
// anything but an empty line would let it take the next response's
// bytes for this one's.
func (fc *fastConn) copyChunked(br *bufio.Reader) (done, clientGone bool) {
	var line []byte
	for {
		l, err := readLine(br, &line, maxChunkLine)
		if err != nil {
			return false, false
		}
		size, ok := chunkSize(l)
		if !ok {
			return false, false
		}
		if _, err := fc.out.Write(l); err != nil {
			return false, true
		}
		if size == 0 {
			for { // trailers, to the empty line
				t, err := readLine(br, &line, maxResponseHeader)
				if err != nil || !crlfLine(t) {
					return false, false
				}
				if len(t) > 2 && !trailerLine(t[:len(t)-2]) {
					return false, false
				}
				if _, err := fc.out.Write(t); err != nil {
					return false, true
				}
				if len(t) == 2 {
					return true, fc.out.Flush() != nil
				}
			}
		}
		before := fc.x.bytes
		if done, gone := fc.copyLength(br, size); !done || gone {
			return done, gone
		}
		fc.x.bytes = before + size // the chunk's data; framing is not counted
		crlfEnd, err := br.Peek(2)
		if err != nil || crlfEnd[0] != '\r' || crlfEnd[1] != '\n' {
			return false, false
		}
		br.Discard(2)
		if !fc.send(crlfBytes, true) {
			return false, true
		}
		fc.x.bytes -= 2
	}
}

// maxChunkLine bounds a chunk-size line, extensions included, as
// net/http's chunked reader does.
const maxChunkLine = 4 << 10

// crlfLine reports whether l, a line read up to its LF, ends in CRLF
// and has no other CR.
func crlfLine(l []byte) bool {
	n := len(l)
	return n >= 2 && l[n-2] == '\r' && bytes.IndexByte(l[:n-2], '\r') < 0
}

// trailerLine reports whether l, without its CRLF, is a field line.
func trailerLine(l []byte) bool {
	colon := bytes.IndexByte(l, ':')
	return colon > 0 && isToken(l[:colon]) && fieldValue(trimOWS(l[colon+1:]))
}

// copyUntilEOF relays a body delimited by the backend closing the
// connection, chunked to the client so its connection can stay open.
func (fc *fastConn) copyUntilEOF(br *bufio.Reader) (done, clientGone bool) {
	buf := fc.f.g.fwd.copies.Get().(*[proxyBufferSize]byte)
	defer fc.f.g.fwd.copies.Put(buf)
	for {
		n, err := br.Read(buf[:])
		if n > 0 {
			fc.out.Write(strconv.AppendInt(fc.x.num[:0], int64(n), 16))
			fc.out.WriteString("\r\n")
			fc.out.Write(buf[:n])
			fc.x.bytes += int64(n)
			if !fc.send(crlfBytes, true) {
				return false, true
			}
			fc.x.bytes -= 2
		}
		if err == io.EOF {
			_, werr := fc.out.WriteString("0\r\n\r\n")
			return true, werr != nil
		}
		if err != nil {
			return false, false
		}
	}
}

// readLine reads a line, CRLF included, of at most max bytes (a
// backend's head is bounded by its headerLimit too); long lines are
// gathered in *scratch.
func readLine(br *bufio.Reader, scratch *[]byte, max int) ([]byte, error) {
	l, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return l, err
	}
	*scratch = append((*scratch)[:0], l...)
	for err == bufio.ErrBufferFull {
		if len(*scratch) > max {
			return nil, errLineTooLong
		}
		l, err = br.ReadSlice('\n')
		*scratch = append(*scratch, l...)
	}
	if len(*scratch) > max {
		return nil, errLineTooLong
	}
	return *scratch, err
}

var errLineTooLong = errors.New("backend sent a line over the limit")

// chunkSize parses a chunk-size line, "1a;ext=v\r\n", as net/http's
// chunked reader does: it ends in CRLF, with no other CR; whitespace may
// end it, none may start it.
func chunkSize(l []byte) (int64, bool) {
	if !crlfLine(l) {
		return 0, false
	}
	l = l[:len(l)-2]
	for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
		l = l[:len(l)-1]
	}
	if i := bytes.IndexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	if len(l) == 0 || len(l) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range l {
		v := hexValue(c)
		if v < 0 {
			return 0, false
		}
		n = n<<4 | int64(v)
	}
	return n, true
}

// writeResponseHead writes rhead's status line and headers to the
// client: hop-by-hop ones dropped, X-Request-Id the gateway's, and the
// framing the relay will use. informational: a 1xx, without framing.
func (fc *fastConn) writeResponseHead(informational, closeAfter bool) {
	h, out := &fc.rhead, fc.out
	out.Write(statusLine(h.status))
	for i := range h.lines {
		if l := &h.lines[i]; l.keep && !h.listed(h.name(l)) {
			out.Write(h.raw[l.start:l.end])
			out.WriteString("\r\n")
		}
	}
	if !informational {
		writeHeaderLine(out, "X-Request-Id", fc.x.requestID[0])
		if !h.hasDate {
			out.WriteString("Date: ")
			out.Write(httpDate())
			out.WriteString("\r\n")
		}
		bodiless := h.status == http.StatusNoContent || h.status == http.StatusNotModified
		switch {
		case h.chunked && fc.req.method != http.MethodHead && !bodiless,
			h.length < 0 && !h.chunked && fc.req.method != http.MethodHead && !bodiless:
			out.WriteString("Transfer-Encoding: chunked\r\n")
		case h.length >= 0 && h.status != http.StatusNoContent:
			out.WriteString("Content-Length: ")
			out.Write(strconv.AppendInt(fc.x.num[:0], h.length, 10))
			out.WriteString("\r\n")
		}
		if closeAfter {
			out.WriteString("Connection: close\r\n")
		}
	}
	out.WriteString("\r\n")
}

// writeResp writes the gateway's own answer, in resp, to the client.
func (fc *fastConn) writeResp(closeAfter bool) int {
	w, out := &fc.resp, fc.out
	defer w.reset()
	if fc.x.status == StatusClientClosedRequest {
		return closeConn
	}
	closeAfter = closeAfter || fc.f.closing.Load()
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	out.Write(statusLine(status))
	for k, vv := range w.h {
		switch k {
		case "Content-Length", "Connection", "Transfer-Encoding", "Date":
			continue
		}
		for _, v := range vv {
			writeHeaderLine(out, k, v)
		}
	}
	out.WriteString("Date: ")
	out.Write(httpDate())
	out.WriteString("\r\nContent-Length: ")
	out.Write(strconv.AppendInt(fc.x.num[:0], int64(len(w.body)), 10))
	out.WriteString("\r\n")
	if closeAfter {
		out.WriteString("Connection: close\r\n")
	}
	out.WriteString("\r\n")
	if fc.req.method != http.MethodHead {
		out.Write(w.body)
	}
	if closeAfter {
		return closeConn
	}
	return keepOpen
}

// report hands the finished request to OnRequest, as Gateway.report.
func (fc *fastConn) report() {
	if g := fc.f.g; g.onRequest != nil {
		g.onRequest(fc.x.info(fc.host, fc.req.method, fc.peer))
	}
}

// fastResponse is the http.ResponseWriter the gateway's own answers
// (errors, refusals) are written to on the fast path; writeResp sends it.
type fastResponse struct {
	h      http.Header
	status int
	body   []byte
}

func (w *fastResponse) Header() http.Header { return w.h }

func (w *fastResponse) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *fastResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *fastResponse) reset() {
	clear(w.h)
	w.status = 0
	w.body = w.body[:0]
}
