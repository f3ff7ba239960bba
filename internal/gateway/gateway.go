package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultDialTimeout           = 2 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultDomain                = "localhost"
)

// Settings for the http.Server that serves a Gateway. The gateway cannot
// enforce them itself (the server owns the connections), so the server
// should set them.
const (
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers, against connections held open by trickling them.
	ReadHeaderTimeout = 10 * time.Second
	// MaxHeaderBytes bounds a request's line and headers, as an ALB's
	// 64 KB; net/http answers larger ones with 431.
	MaxHeaderBytes = 64 << 10
	// IdleTimeout closes client keep-alive connections idle this long,
	// the ALB's default (core.DefaultIdleTimeout).
	IdleTimeout = 60 * time.Second
)

// Config configures a Gateway. Zero values get the defaults noted.
type Config struct {
	Logger *slog.Logger // default: discard
	// Upstreams picks the backends of routes without their own. The
	// default is the gateway's balancer, which balances each route as its
	// Balance says (least outstanding requests unless round_robin) and
	// honours its Sticky. Another Upstreams ignores both; a RoundRobin()
	// or LeastOutstanding() honours Sticky.
	Upstreams Upstreams
	Domain    string // only used in the 404 message; default "localhost"

	DialTimeout           time.Duration // connecting to an instance; default 2s
	ResponseHeaderTimeout time.Duration // waiting for an instance's headers; default 60s

	// SkipFailedFor is how long the default balancer skips an instance
	// after a connection error to it (passive health), unless every
	// instance of the stage is skipped. Default 2s; negative: never skip.
	// It does not apply to a Config.Upstreams of your own.
	SkipFailedFor time.Duration

	// TrustedProxies are the networks of proxies in front of the gateway
	// whose X-Forwarded-For (and X-Forwarded-Proto) may be believed; see
	// ClientIP. Default none: the direct peer is the client, and what a
	// client sends in X-Forwarded-For is dropped.
	TrustedProxies []netip.Prefix

	// StickyKey keys the HMAC that makes sticky-session cookie values
	// (see Route.Sticky). Default: a random key per Gateway, so that a
	// restart re-pins clients; set a stable secret to keep them pinned.
	StickyKey []byte

	// OnRequest, when set, is called once after every request, on the
	// serving goroutine: keep it cheap and do not retain the argument's
	// fields beyond what you copy.
	OnRequest func(RequestInfo)
}

// RequestInfo describes one finished request, for access logs and metrics.
type RequestInfo struct {
	RequestID string
	Host      string // as the client sent it
	Stack     string // empty when no route matched
	Stage     string
	Method    string
	Path      string
	Status    int // 499 when the client left before a response was written
	Duration  time.Duration
	BytesOut  int64  // response body bytes written (not counted after a websocket upgrade)
	BackendID string // the instance that answered, or the last one tried
	// Attempts counts round trips to instances: 0 when none was tried (no
	// route, no instance), 1 normally, up to 3 when connection errors made
	// the gateway retry on other instances.
	Attempts int
	// ColdStart is set when the request waited for a new instance to
	// start (serverless), which took Init.
	ColdStart bool
	Init      time.Duration
	// APIKey is the name of the API key the request used (never the key).
	APIKey string
	// ClientIP is the client's address: the peer's, or from
	// X-Forwarded-For when the peer is a trusted proxy.
	ClientIP string
}

// MarkColdStart records, for the access log, that the request being
// served through w waited for an instance to start, for init. A Backend's
// Serve calls it; on any other writer it does nothing.
func MarkColdStart(w http.ResponseWriter, init time.Duration) {
	if x := exchangeOf(w); x != nil {
		x.cold, x.init = true, init
	}
}

// SetAPIKey records, for the access log, the name of the API key the
// request being served through w used.
func SetAPIKey(w http.ResponseWriter, name string) {
	if x := exchangeOf(w); x != nil {
		x.apiKey = name
	}
}

// exchangeOf finds the request's exchange under middleware writers.
func exchangeOf(w http.ResponseWriter) *exchange {
	for range 8 {
		switch v := w.(type) {
		case *exchange:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// Gateway routes requests by Host to the backends of the route table it
// currently holds. It is an http.Handler; the server owns the listener.
type Gateway struct {
	log       *slog.Logger
	upstreams Upstreams
	pin       pinner // upstreams, when it is a balancer of ours; else nil (no sticky sessions)
	sticky    *stickiness
	trusted   []netip.Prefix
	domain    string
	onRequest func(RequestInfo)

	table     atomic.Pointer[RouteTable]
	wrapped   atomic.Pointer[wrapped]
	terminal  http.Handler // g.forwardTerminal, made once
	transport *http.Transport
	proxy     *httputil.ReverseProxy // upgrades and streamed or large bodies
	fwd       *forwarder             // everything else (see forward.go)
}

var _ http.Handler = (*Gateway)(nil)

// New builds a Gateway serving an empty route table.
func New(cfg Config) *Gateway {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Upstreams == nil {
		skip := cfg.SkipFailedFor
		if skip == 0 {
			skip = DefaultSkipFailedFor
		}
		cfg.Upstreams = newBalancer(byRoute, skip)
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.ResponseHeaderTimeout <= 0 {
		cfg.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	g := &Gateway{
		log:       cfg.Logger.With("component", "gateway"),
		upstreams: cfg.Upstreams,
		sticky:    newStickiness(cfg.StickyKey),
		trusted:   slices.Clone(cfg.TrustedProxies),
		domain:    cfg.Domain,
		onRequest: cfg.OnRequest,
		transport: newTransport(cfg.DialTimeout, cfg.ResponseHeaderTimeout),
	}
	g.pin, _ = cfg.Upstreams.(pinner)
	g.proxy = g.newReverseProxy()
	g.fwd = newForwarder(cfg.DialTimeout, cfg.ResponseHeaderTimeout)
	g.terminal = http.HandlerFunc(g.forwardTerminal)
	g.Update(nil)
	return g
}

// Update swaps in a new route table. Requests already past their lookup
// finish on the old table's backends; new ones see t. Safe to call
// concurrently with ServeHTTP. A nil table means no routes.
func (g *Gateway) Update(t *RouteTable) {
	if t == nil {
		t = NewRouteTable(nil)
	}
	// Each route's middleware wraps the gateway's forwarding once here,
	// so requests only look the result up.
	w := &wrapped{table: t, handlers: map[*Route]http.Handler{}}
	for _, r := range t.sorted {
		if r.Middleware != nil {
			w.handlers[r] = r.Middleware(g.terminal)
		}
	}
	g.wrapped.Store(w)
	g.table.Store(t)
}

// wrapped is a route table with its routes' middleware applied.
type wrapped struct {
	table    *RouteTable
	handlers map[*Route]http.Handler
}

// Table returns the route table in use.
func (g *Gateway) Table() *RouteTable { return g.table.Load() }

// CloseIdleConnections closes idle keep-alive connections to backends,
// for shutdown and for tests.
func (g *Gateway) CloseIdleConnections() {
	g.transport.CloseIdleConnections()
	g.fwd.closeIdle()
}

// ServeHTTP routes r: lookup by host, acquire a backend (the sticky
// session's, else from Upstreams), proxy (retrying on other backends, see
// retrier), release.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, start: time.Now(), path: r.URL.Path}
	dropUnderscoreAliases(r.Header)
	dropClientIPHeaders(r, g.trusted)
	if r.ProtoMajor == 2 {
		x.stream = http.NewResponseController(w)
	}
	x.setRequestID(r.Header)
	if g.onRequest != nil {
		defer g.report(x, r)
	}

	wr := g.wrapped.Load()
	route, ok := wr.table.Lookup(r.Host)
	if !ok {
		setIdle(r, 0)
		x.fail(failure{http.StatusNotFound, CodeNotFound, notFoundMessage(normalizeHost(r.Host), g.domain)})
		return
	}
	if len(route.Paths) > 0 {
		if p, ok := route.match(r.URL.Path); ok {
			if target, ok := wr.table.Lookup(p.Host); ok {
				route = target
				if p.Strip {
					stripPrefix(r, p.Prefix)
				}
			}
		}
	}
	x.route = route
	setIdle(r, route.IdleTimeout)
	if h := wr.handlers[route]; h != nil {
		h.ServeHTTP(x, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
		return
	}
	g.forward(x, x, r)
}

// stripPrefix removes a path route's prefix from the request's path,
// keeping it absolute.
func stripPrefix(r *http.Request, prefix string) {
	// On the escaped form, so an encoded "/" (%2F) stays encoded.
	esc := strings.TrimPrefix(r.URL.EscapedPath(), strings.TrimSuffix(prefix, "/"))
	if !strings.HasPrefix(esc, "/") {
		esc = "/" + esc
	}
	p, err := url.PathUnescape(esc)
	if err != nil {
		return
	}
	r.URL.Path, r.URL.RawPath = p, esc
}

// forwardTerminal ends a route's middleware chain: the request goes on
// to a backend, written through w (the middleware's writer, which ends
// in the request's exchange).
func (g *Gateway) forwardTerminal(w http.ResponseWriter, r *http.Request) {
	g.forward(exchangeFrom(r.Context()), w, r)
}

// forward acquires a backend for x's route and proxies r to it, writing
// through w (x itself, or a middleware's writer wrapping it).
func (g *Gateway) forward(x *exchange, w http.ResponseWriter, r *http.Request) {
	route := x.route
	ctx := r.Context()
	if route.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.Timeout)
		defer cancel()
	}
	x.upstreams = g.upstreams
	if route.Upstreams != nil {
		x.upstreams = route.Upstreams
	}
	var backend Backend
	var release func()
	var err error
	pinned := false
	if route.Sticky > 0 && route.Upstreams == nil && g.pin != nil {
		backend, release, pinned = g.acquirePinned(x, r, route)
	}
	if !pinned {
		backend, release, err = x.upstreams.Acquire(ctx, route)
	}
	if err == nil && backend.Addr == "" && backend.Serve == nil {
		err = ErrNoBackend // a misbehaving Upstreams must not make us dial ""
	}
	if err != nil {
		g.acquireFailed(ctx, x, w, route, err, release)
		return
	}
	x.backend, x.release = backend, release
	defer x.releaseBackend() // the backend of the last attempt; retries release the others
	// API keys are for the gateway: no app sees one, whatever route (a
	// path route to a balancer stage, say) the request took.
	delete(r.Header, "X-Api-Key")
	if backend.Serve != nil {
		x.attempts = 1
		replaceForwarded(x, r, g.trusted)
		x.w.Header()["X-Request-Id"] = x.requestID
		r.Header["X-Request-Id"] = x.requestID
		backend.Serve.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	if forwardable(r) {
		g.forwardFast(ctx, x, w, r)
		return
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, exchangeKey{}, x)))
}

// acquireFailed answers x, for which Upstreams.Acquire failed with err,
// through w (x, or a middleware's writer wrapping it), and releases what
// Acquire may have returned with the error.
func (g *Gateway) acquireFailed(ctx context.Context, x *exchange, w http.ResponseWriter, route *Route, err error, release func()) {
	if release != nil {
		release()
	}
	f := classifyAcquire(route, ctx, err)
	var rej *Reject
	if errors.As(err, &rej) {
		for k, v := range rej.Header {
			w.Header()[k] = v
		}
		if ra := rej.retryAfter(); ra != "" {
			w.Header()["Retry-After"] = []string{ra}
		}
	}
	// A stage without instances is a state, not an incident: it is in
	// the access log already, and would flood this log under load.
	level := slog.LevelWarn
	if f.status == StatusClientClosedRequest || f.code == CodeNoHealthyInstance {
		level = slog.LevelDebug
	}
	if f.status == http.StatusTooManyRequests {
		level = slog.LevelDebug // throttling is the answer, not an incident
	}
	g.log.Log(ctx, level, "no instance for request", "stack", route.Stack, "stage", route.Stage,
		"request_id", x.requestID[0], "status", f.status, "err", err)
	x.fail(f)
}

// report hands the finished request to OnRequest. It runs deferred, so a
// response aborted mid-body (ReverseProxy panics with ErrAbortHandler) is
// still reported, with the status that had been sent.
func (g *Gateway) report(x *exchange, r *http.Request) {
	g.onRequest(x.info(r.Host, r.Method, ClientIP(r, g.trusted)))
}

// info describes x, finished, for OnRequest.
func (x *exchange) info(host, method, clientIP string) RequestInfo {
	info := RequestInfo{
		RequestID: x.requestID[0],
		Host:      host,
		Method:    method,
		Path:      x.path,
		Status:    x.status,
		Duration:  time.Since(x.start),
		BytesOut:  x.bytes,
		BackendID: x.backend.ID,
		Attempts:  x.attempts,
		ColdStart: x.cold,
		Init:      x.init,
		APIKey:    x.apiKey,
		ClientIP:  clientIP,
	}
	if x.route != nil {
		info.Stack, info.Stage = x.route.Stack, x.route.Stage
	}
	if info.Status == 0 {
		info.Status = http.StatusOK // a handler wrote nothing: net/http sends 200
	}
	return info
}

// exchange is the per-request state: it wraps the ResponseWriter to count
// what is written and carries what Rewrite, ModifyResponse and the error
// handler need, through the request context. One allocation per request.
type exchange struct {
	w         http.ResponseWriter
	start     time.Time
	requestID []string // X-Request-Id header value, shared by request and response
	route     *Route
	upstreams Upstreams // the route's, or the gateway's: retries acquire from it too
	backend   Backend
	release   func() // backend's release; nil once called
	status    int
	bytes     int64
	attempts  int    // round trips started
	informed  bool   // a 1xx response was forwarded: the backend has answered
	path      string // as the client sent it, for the access log
	cold      bool   // see MarkColdStart
	init      time.Duration
	apiKey    string // see SetAPIKey

	// sticky is set when the route has sticky sessions; stickyToken is
	// the value of the request's sticky cookie, if any.
	sticky      bool
	stickyToken string

	// stream is the HTTP/2 stream's controller, whose write deadline
	// bounds its writes (writeStream); nil on HTTP/1.x, where the
	// connection itself is bounded.
	stream *http.ResponseController

	tried []Backend  // backends failed by earlier attempts; allocated on retry only
	body  replayBody // the outbound body's wrapper, when the request has a body

	// id and fwd back the header values the gateway sets (a generated
	// request id; X-Forwarded-For, -Host, -Proto), so that setting them
	// costs no allocation of its own.
	id  [1]string
	fwd [3]string
	num [20]byte // formats lengths: a local array would escape to the heap
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	return ctx.Value(exchangeKey{}).(*exchange)
}

func (x *exchange) Header() http.Header { return x.w.Header() }

func (x *exchange) WriteHeader(code int) {
	// 1xx other than 101 are informational (ReverseProxy forwards 103
	// Early Hints this way); the final status comes later.
	if x.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		x.status = code
	}
	if code < 200 {
		x.informed = true
	}
	x.w.WriteHeader(code)
}

func (x *exchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	if x.stream != nil {
		return x.writeStream(p)
	}
	n, err := x.w.Write(p)
	x.bytes += int64(n)
	return n, err
}

// writeStream writes p to an HTTP/2 stream a streamPiece at a time,
// each under a write deadline of the idle timeout (writestall.go). An
// HTTP/2 stream's deadline is a timer that resets the stream when it
// fires, written to or not, so it is cleared after each piece: a stream
// may be quiet as long as its backend likes. (What net/http writes after
// the handler returns, the buffered end of the body, is not bounded: a
// deadline set then could outlive the stream and reset it, closed, later.)
func (x *exchange) writeStream(p []byte) (int, error) {
	var total int
	for len(p) > 0 {
		x.stream.SetWriteDeadline(time.Now().Add(x.idleTimeout()))
		n, err := x.w.Write(p[:min(len(p), streamPiece)])
		x.stream.SetWriteDeadline(time.Time{})
		total += n
		x.bytes += int64(n)
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}

// idleTimeout is the idle timeout of the exchange's route, else the
// server's.
func (x *exchange) idleTimeout() time.Duration {
	if x.route == nil {
		return IdleTimeout
	}
	return idleOr(x.route.IdleTimeout)
}

// Flush lets ReverseProxy stream (text/event-stream, unknown lengths).
// On HTTP/2 it is bounded as writeStream's writes are.
func (x *exchange) Flush() {
	if f, ok := x.w.(http.Flusher); ok {
		if x.stream != nil {
			x.stream.SetWriteDeadline(time.Now().Add(x.idleTimeout()))
			defer x.stream.SetWriteDeadline(time.Time{})
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach Hijack (websockets) and
// deadlines on the underlying writer.
func (x *exchange) Unwrap() http.ResponseWriter { return x.w }

// releaseBackend releases the backend of the current attempt, once.
func (x *exchange) releaseBackend() {
	if release := x.release; release != nil {
		x.release = nil
		release()
	}
}

// fail writes f as a JSON error, unless the client is gone or a response
// has already started (then only the status is recorded).
func (x *exchange) fail(f failure) {
	if f.status == StatusClientClosedRequest || x.status != 0 {
		if x.status == 0 {
			x.status = f.status
		}
		return
	}
	x.w.Header()["X-Request-Id"] = x.requestID
	WriteError(x, f.status, f.code, f.message) // through x: counts the bytes
}
