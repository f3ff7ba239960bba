package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The forwarder is the gateway's own HTTP/1.1 client for the requests
// that make up nearly all traffic: no protocol switch, no body or a small
// one of known length. It exists because http.Transport hands every
// round trip to two goroutines of the connection (one writes, one reads)
// through channels, and ReverseProxy copies the request and its headers:
// on a 2-core machine those hand-offs, not the bytes, bound a proxy's
// throughput (the perf baselines measure a stock ReverseProxy at 0.18× of
// direct). Here the serving goroutine writes the request and reads the
// response on a pooled connection itself, with no copy of the request.
//
// Everything else (websockets and other upgrades, bodies without a
// length or over fastBodyMax, Expect: 100-continue, request trailers)
// goes through ReverseProxy and its Transport as before, which stream a
// body while reading the response.

// fastBodyMax is the largest request body the forwarder takes: it reads
// it whole before sending, which makes it replayable on another instance
// and lets headers and body go out in one write.
const fastBodyMax = 64 << 10

// A pooled connection is checked before every reuse, with a
// non-blocking peek (peeker, under a microsecond), for having been
// closed by the backend (apps close idle keep-alive connections after as
// little as 5 s, Node's default) and for bytes the backend sent after its
// last response, which would be read as the next request's response and
// shift every later response on the connection to the request after.
// http.Transport learns both from its read goroutine; the forwarder has
// none.

// forwardable reports whether the forwarder can take r.
func forwardable(r *http.Request) bool {
	if r.ContentLength < 0 || r.ContentLength > fastBodyMax || len(r.TransferEncoding) > 0 ||
		len(r.Trailer) > 0 || r.Method == http.MethodConnect || r.URL.Opaque != "" {
		return false
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return false
	}
	if _, ok := r.Header["Expect"]; ok {
		return false
	}
	return true
}

// forwarder holds the pooled connections to backends, by address.
type forwarder struct {
	dialer            net.Dialer
	responseHeaderMax time.Duration // ResponseHeaderTimeout

	mu        sync.Mutex
	idle      map[string][]*upstreamConn // most recently used last
	nextSweep time.Time                  // when put next closes the stale connections of every address

	bodies sync.Pool // *[fastBodyMax]byte
	copies sync.Pool // *[proxyBufferSize]byte
}

func newForwarder(dialTimeout, responseHeaderTimeout time.Duration) *forwarder {
	f := &forwarder{
		dialer:            net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive},
		responseHeaderMax: responseHeaderTimeout,
		idle:              map[string][]*upstreamConn{},
	}
	f.bodies.New = func() any { return new([fastBodyMax]byte) }
	f.copies.New = func() any { return new([proxyBufferSize]byte) }
	return f
}

// upstreamConn is one keep-alive connection to a backend.
type upstreamConn struct {
	conn     net.Conn
	lr       headerLimit
	br       *bufio.Reader
	bw       *bufio.Writer
	flush    func() error // bw.Flush, made once
	addr     string
	idleAt   time.Time
	reused   bool
	canceled atomic.Bool // the request's context ended while it was in use
	stop     func() bool // unregisters the cancel hook of the request in flight
	// stillOpen peeks at the connection before a reuse (see peeker).
	stillOpen func() bool
}

// watch makes the end of ctx interrupt whatever uc is blocked in, until
// unwatch: the serving goroutine reads and writes uc itself, so a client
// that leaves or a route timeout must reach it through a deadline.
func (uc *upstreamConn) watch(ctx context.Context) {
	uc.stop = context.AfterFunc(ctx, func() {
		uc.canceled.Store(true)
		uc.conn.SetDeadline(aLongTimeAgo)
	})
}

// unwatch reports whether the request's context never ended while
// watched. When the hook has started, it may not have set canceled (or
// the deadline) yet: the connection must not be reused then either.
func (uc *upstreamConn) unwatch() (intact bool) {
	intact = true
	if uc.stop != nil {
		intact = uc.stop()
		uc.stop = nil
	}
	return intact && !uc.canceled.Load()
}

// close closes the connection for good.
func (uc *upstreamConn) close() {
	uc.unwatch()
	uc.conn.Close()
}

// headerLimit caps what a backend may send before its response's body
// starts, as the Transport's MaxResponseHeaderBytes does.
type headerLimit struct {
	c    net.Conn
	n    int64 // bytes left; < 0: no limit
	read int64 // bytes read since the request was sent

	// The fast path's exchange hands its request's write to the first
	// Read after it, which sends it and waits before reading (see
	// waitReader), peeking first: it is a reused connection.
	wr   *waitReader // nil: c is not a polled socket
	send func() error
}

var errResponseHeaderTooBig = errors.New("backend sent response headers over the limit")

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errResponseHeaderTooBig
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	var n int
	var err error
	if l.send != nil {
		send := l.send
		l.send = nil
		n, err = l.wr.read(p, send, true)
	} else {
		n, err = l.c.Read(p)
	}
	l.read += int64(n)
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}

// get returns an idle connection to addr that still looks open, or dials.
// peekLater: a reused connection is not peeked at here, because the
// caller's exchange peeks (see headerLimit.wr) and handles errStaleConn.
func (f *forwarder) get(ctx context.Context, addr string, peekLater bool) (*upstreamConn, error) {
	now := time.Now()
	for {
		f.mu.Lock()
		list := f.idle[addr]
		if len(list) == 0 {
			f.mu.Unlock()
			break
		}
		uc := list[len(list)-1]
		list[len(list)-1] = nil
		f.idle[addr] = list[:len(list)-1]
		f.mu.Unlock()
		idle := now.Sub(uc.idleAt)
		if idle < idleConnTimeout && ((peekLater && uc.lr.wr != nil) || uc.stillOpen()) {
			uc.reused = true
			return uc, nil
		}
		uc.conn.Close()
	}
	return f.dial(ctx, addr)
}

func (f *forwarder) dial(ctx context.Context, addr string) (*upstreamConn, error) {
	c, err := f.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newUpstreamConn(c, addr), nil
}

// newUpstreamConn wraps c, a connection to addr, for the pool.
func newUpstreamConn(c net.Conn, addr string) *upstreamConn {
	uc := &upstreamConn{conn: c, addr: addr, stillOpen: peeker(c)}
	uc.lr.c = c
	uc.lr.n = -1
	uc.lr.wr = newWaitReader(c)
	uc.br = bufio.NewReaderSize(&uc.lr, 4<<10)
	uc.bw = bufio.NewWriterSize(c, 4<<10)
	uc.flush = uc.bw.Flush
	return uc
}

// sweepEvery is how often put closes the idle connections past the idle
// timeout of every address, not only its own: an instance that gets no
// more traffic (replaced by a deploy) would otherwise keep its idle
// connections, and their file descriptors, for good.
const sweepEvery = idleConnTimeout / 3

// put returns uc to the pool, or closes it when the pool is full.
// The oldest idle connections of addr are closed once past the idle
// timeout, and every sweepEvery those of every address.
func (f *forwarder) put(uc *upstreamConn) {
	uc.idleAt = time.Now()
	f.mu.Lock()
	if uc.idleAt.After(f.nextSweep) {
		f.nextSweep = uc.idleAt.Add(sweepEvery)
		stale := f.takeStale(uc.idleAt)
		f.mu.Unlock()
		for _, s := range stale {
			s.conn.Close()
		}
		f.mu.Lock()
	}
	list := f.idle[uc.addr]
	var stale *upstreamConn
	if len(list) > 0 && uc.idleAt.Sub(list[0].idleAt) >= idleConnTimeout {
		stale = list[0]
		list = list[1:]
	}
	if len(list) >= maxIdleConnsPerHost {
		f.mu.Unlock()
		uc.conn.Close()
		if stale != nil {
			stale.conn.Close()
		}
		return
	}
	f.idle[uc.addr] = append(list, uc)
	f.mu.Unlock()
	if stale != nil {
		stale.conn.Close()
	}
}

// takeStale takes out of the pool the connections idle for the idle
// timeout or longer at now, dropping the addresses left without any.
// f.mu is held.
func (f *forwarder) takeStale(now time.Time) []*upstreamConn {
	var stale []*upstreamConn
	for addr, list := range f.idle {
		i := 0 // oldest first
		for i < len(list) && now.Sub(list[i].idleAt) >= idleConnTimeout {
			i++
		}
		if i == 0 {
			continue
		}
		stale = append(stale, list[:i]...)
		if i == len(list) {
			delete(f.idle, addr)
			continue
		}
		rest := slices.Clone(list[i:])
		f.idle[addr] = rest
	}
	return stale
}

// closeIdle closes every idle connection (connections in use are pooled
// again when their requests end).
func (f *forwarder) closeIdle() {
	f.mu.Lock()
	idle := f.idle
	f.idle = map[string][]*upstreamConn{}
	f.mu.Unlock()
	for _, list := range idle {
		for _, uc := range list {
			uc.conn.Close()
		}
	}
}

// forwardFast proxies r to x.backend with the forwarder, retrying on
// other backends as retrier does for ReverseProxy. r is forwardable.
// ctx is the request's context, with the route's timeout if it has one.
func (g *Gateway) forwardFast(ctx context.Context, x *exchange, w http.ResponseWriter, r *http.Request) {
	f := g.fwd
	var body []byte
	if r.ContentLength > 0 {
		buf := f.bodies.Get().(*[fastBodyMax]byte)
		defer f.bodies.Put(buf)
		var stop func() bool
		if x.route.Timeout > 0 {
			// The route's timeout bounds a client that stalls mid-body:
			// only a read deadline interrupts the read (and lets the
			// server write the answer without first draining the body).
			rc := http.NewResponseController(x)
			stop = context.AfterFunc(ctx, func() { rc.SetReadDeadline(aLongTimeAgo) })
		}
		n, err := io.ReadFull(r.Body, buf[:r.ContentLength])
		if stop != nil {
			stop()
		}
		if err != nil {
			if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
				g.proxyFailed(r.Context(), x, err) // 413
			} else if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The route's timeout (the failed read canceled the
				// request's context since): 504, as mid-response.
				g.proxyFailed(r.Context(), x, ctx.Err())
			} else {
				x.fail(failure{status: StatusClientClosedRequest}) // the client stopped sending
			}
			return
		}
		body = buf[:n]
	}
	hasFor := forwardedValues(x, r, g.trusted)
	for {
		x.attempts++
		uc, res, err := f.roundTrip(ctx, x, r, body, hasFor)
		if err == nil {
			g.respond(x, w, r, uc, res)
			return
		}
		// Another attempt may acquire another backend (passive health,
		// failover), as retrier does; the body is whole in memory, so
		// only the request's method decides whether it may be sent again.
		if err := g.nextAttempt(ctx, x, r.Method, nil, err); err != nil {
			g.proxyFailed(r.Context(), x, err)
			return
		}
	}
}

// roundTrip sends the request on a connection to x.backend and reads the
// response's head. A reused connection that turns out closed before any
// byte of a response came back is replaced by the next pooled one, or a
// new one, when the request may be sent again (as http.Transport does);
// a failure on a new connection is final.
func (f *forwarder) roundTrip(ctx context.Context, x *exchange, r *http.Request, body []byte, hasFor bool) (*upstreamConn, *http.Response, error) {
	for {
		uc, err := f.get(ctx, x.backend.Addr, false)
		if err != nil {
			return nil, nil, err
		}
		uc.watch(ctx)
		res, err := f.exchange(uc, x, r, body, hasFor)
		if err == nil {
			return uc, res, nil
		}
		uc.close()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if !uc.closedWhileIdle(err) || !idempotent(r) {
			return nil, nil, err
		}
	}
}

// closedWhileIdle reports whether err, which ended a round trip on uc,
// means the backend had closed uc while it was pooled: it was reused, and
// closed or reset before a byte of a response came back. A request that
// may be sent again is then sent on another connection, as
// http.Transport does.
func (uc *upstreamConn) closedWhileIdle(err error) bool {
	return uc.reused && uc.lr.read == 0 && closedBeforeResponse(err)
}

// exchange writes the request on uc and reads the response's head,
// forwarding 1xx informational responses other than 101 on the way.
func (f *forwarder) exchange(uc *upstreamConn, x *exchange, r *http.Request, body []byte, hasFor bool) (*http.Response, error) {
	// The deadline is set before anything is sent, and a cancel checked
	// after it is set: a cancel's deadline set in between would be undone.
	if f.responseHeaderMax > 0 {
		uc.conn.SetReadDeadline(time.Now().Add(f.responseHeaderMax))
		if uc.canceled.Load() {
			uc.conn.SetDeadline(aLongTimeAgo)
		}
	}
	// read counts from here: bytes of the previous response on a reused
	// connection must not make a failed write look answered.
	uc.lr.read = 0
	writeRequest(uc.bw, x, r, body, hasFor)
	if err := uc.bw.Flush(); err != nil {
		return nil, err
	}
	uc.lr.n = maxResponseHeader
	for {
		res, err := http.ReadResponse(uc.br, r)
		if err != nil {
			return nil, err
		}
		if res.StatusCode < 100 { // "099" parses; WriteHeader would panic on it
			return nil, errors.New("backend sent an invalid status code " + strconv.Itoa(res.StatusCode))
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			uc.lr.n = -1
			uc.conn.SetReadDeadline(time.Time{})
			if uc.canceled.Load() { // the deadline of a cancel may just have been undone
				uc.conn.SetDeadline(aLongTimeAgo)
			}
			return res, nil
		}
		forwardInformational(x, res)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// forwardInformational passes a 1xx response (103 Early Hints, say) on to
// the client, with its headers, then clears them for the final response.
func forwardInformational(x *exchange, res *http.Response) {
	x.informed = true
	h := x.w.Header()
	for k, vv := range res.Header {
		h[k] = vv
	}
	x.w.WriteHeader(res.StatusCode)
	for k := range res.Header {
		delete(h, k)
	}
}

// writeRequest writes r's request line, headers and body in HTTP/1.1:
// hop-by-hop headers dropped, the client's X-Forwarded-* and Forwarded
// replaced by the gateway's, X-Request-Id set, Host kept as the client
// sent it (like an ALB, the app sees the host the client asked for).
func writeRequest(bw *bufio.Writer, x *exchange, r *http.Request, body []byte, hasFor bool) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	if p := r.URL.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if skipRequestHeader(k) || (len(conn) > 0 && listedIn(conn, k)) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	if te := r.Header["Te"]; len(te) > 0 && listedIn(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	writeRequestTail(bw, x, hasFor, r.Method, body)
}

// writeRequestTail ends a request both request writers (writeRequest,
// and the fast path's) write: the gateway's X-Forwarded-* and
// X-Request-Id, the body's length, the empty line and the body.
func writeRequestTail(bw *bufio.Writer, x *exchange, hasFor bool, method string, body []byte) {
	if hasFor {
		writeHeaderLine(bw, "X-Forwarded-For", x.fwd[0])
	}
	writeHeaderLine(bw, "X-Forwarded-Host", x.fwd[1])
	writeHeaderLine(bw, "X-Forwarded-Proto", x.fwd[2])
	writeHeaderLine(bw, "X-Request-Id", x.requestID[0])
	if len(body) > 0 || methodWithBody(method) {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(x.num[:0], int64(len(body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// skipRequestHeader reports the headers writeRequest never copies: the
// hop-by-hop ones (RFC 9110 §7.6.1), the framing it writes itself, the
// ones it sets, and the client's API key (for the gateway only).
func skipRequestHeader(k string) bool {
	switch k {
	case "Content-Length", "Host",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id", "X-Api-Key":
		return true
	}
	return hopByHop(k)
}

// hopByHop reports the hop-by-hop headers of RFC 9110 §7.6.1 (and the
// Proxy-Connection and Keep-Alive of old clients), in canonical form.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listedIn reports whether a comma-separated header value lists name.
func listedIn(values []string, name string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(part), name) {
				return true
			}
		}
	}
	return false
}

// methodWithBody reports the methods that always send a Content-Length,
// even of 0, as http.Transport does.
func methodWithBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// idempotent reports whether a request may be sent again after the
// backend may have seen it: by its method, or by an idempotency key that
// reaches the backend (one listed in Connection is dropped on the way).
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	conn := r.Header["Connection"]
	for _, k := range [...]string{"Idempotency-Key", "X-Idempotency-Key"} {
		if _, ok := r.Header[k]; ok && (len(conn) == 0 || !listedIn(conn, k)) {
			return true
		}
	}
	return false
}

// closedBeforeResponse reports whether err, on a connection that has
// not read a byte since the request was sent, means it was closed or
// reset (ReadResponse reports an EOF before the status line as
// io.ErrUnexpectedEOF).
func closedBeforeResponse(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "write" || op.Op == "read") && !op.Timeout()
}

// respond sends the backend's response to the client and, when it was
// read whole and the backend keeps the connection, pools the connection.
func (g *Gateway) respond(x *exchange, w http.ResponseWriter, r *http.Request, uc *upstreamConn, res *http.Response) {
	if res.StatusCode == http.StatusSwitchingProtocols {
		// Nothing asked to switch (upgrades do not come here).
		uc.close()
		g.proxyFailed(r.Context(), x, errors.New("backend switched protocols unasked"))
		return
	}
	h := w.Header()
	removeHopByHop(res.Header)
	for k, vv := range res.Header {
		if prev, ok := h[k]; ok {
			h[k] = append(prev, vv...)
		} else {
			h[k] = vv
		}
	}
	var announced []string
	if len(res.Trailer) > 0 {
		announced = make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			announced = append(announced, k)
		}
		h["Trailer"] = []string{strings.Join(announced, ", ")}
	}
	h["X-Request-Id"] = x.requestID
	if x.sticky {
		g.setStickyCookie(x, h)
	}
	w.WriteHeader(res.StatusCode)

	done, failed := g.copyBody(w, res)
	intact := uc.unwatch()
	// Bytes already buffered after the response's end answer nothing
	// (a body on a HEAD answer, say): pooled, they would be read as the
	// next request's response.
	if done && !res.Close && intact && uc.br.Buffered() == 0 {
		g.fwd.put(uc)
	} else {
		uc.conn.Close()
	}
	if failed {
		// The backend failed mid-body: abort the client's response, which
		// must not look complete, as ReverseProxy does.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range res.Trailer {
		if !slices.Contains(announced, k) {
			k = http.TrailerPrefix + k
		}
		h[k] = vv
	}
}

// copyBody copies the response body to the client, flushing after every
// write when the body streams (no length, or server-sent events). It
// reports whether the body was read to its end, and whether reading it
// failed (not the client leaving).
func (g *Gateway) copyBody(w http.ResponseWriter, res *http.Response) (done, failed bool) {
	if res.Body == http.NoBody {
		return true, false
	}
	stream := res.ContentLength < 0 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
	buf := g.fwd.copies.Get().(*[proxyBufferSize]byte)
	defer g.fwd.copies.Put(buf)
	for {
		n, rerr := res.Body.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false, false // the client left
			}
			if stream {
				flush(w)
			}
		}
		if rerr == io.EOF {
			return true, false
		}
		if rerr != nil {
			return false, true
		}
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w).Flush()
}

// removeHopByHop deletes the hop-by-hop headers of a response, and those
// its Connection header lists. (ReadResponse has already taken out
// Transfer-Encoding.)
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for part := range strings.SplitSeq(v, ",") {
			if name := textproto.TrimString(part); name != "" {
				delete(h, textproto.CanonicalMIMEHeaderKey(name))
			}
		}
	}
	for k := range h {
		if hopByHop(k) {
			delete(h, k)
		}
	}
}

// peeker returns the check of c that get makes before reusing it: a
// peek without blocking. A connection the backend closed reads EOF (or
// an error), one that is open and quiet would block. Bytes waiting on an
// idle connection are a protocol error; it is not reused then either.
// The check allocates here, once per connection, not per reuse.
func peeker(c net.Conn) func() bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return func() bool { return true }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	var open bool
	peek := func(fd uintptr) bool {
		open = idleOpen(fd)
		return true // never wait for readiness
	}
	return func() bool {
		open = false
		return raw.Read(peek) == nil && open
	}
}
