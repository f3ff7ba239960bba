package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transport tuning. Backends are local containers, so keep many idle
// connections per instance: opening one costs more than proxying a small
// request (see the perf baselines, section 1).
const (
	maxIdleConns        = 4096
	maxIdleConnsPerHost = 1024
	idleConnTimeout     = 90 * time.Second
	tcpKeepAlive        = 30 * time.Second
	maxResponseHeader   = 1 << 20
	proxyBufferSize     = 32 << 10
)

// newTransport builds the one transport every request of a Gateway
// shares. It never consults HTTP(S)_PROXY (backends are local), never
// speaks HTTP/2 to backends, and never asks for gzip: a proxy passes
// bodies through, and the transport's transparent decompression would
// both cost CPU and change what the client receives.
func newTransport(dialTimeout, responseHeaderTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		ResponseHeaderTimeout:  responseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
		ForceAttemptHTTP2:      false,
		DisableCompression:     true,
	}
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers; without it every
// request allocates one. The pool holds array pointers so that Put does
// not allocate a slice header per call.
type bufferPool struct{ p sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([proxyBufferSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[proxyBufferSize]byte)[:] }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < proxyBufferSize {
		return
	}
	b.p.Put((*[proxyBufferSize]byte)(buf[:proxyBufferSize]))
}

// newReverseProxy builds the single ReverseProxy of a Gateway. Everything
// per request (backend, request id) travels in the exchange, which
// ServeHTTP puts in the request context. Its RoundTripper is the retrier
// over the shared Transport.
func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      retrier{g},
		BufferPool:     newBufferPool(),
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// rewrite points the outbound request at the chosen backend. By the time
// it runs ReverseProxy has already removed hop-by-hop headers (keeping
// Connection/Upgrade for protocol switches and "TE: trailers") and the
// client's Forwarded and X-Forwarded-* headers.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	out := pr.Out

	// Set the URL in place instead of pr.SetURL: it would allocate a URL
	// per request and clear Host, which we want to keep (like ALB, the
	// app sees the host the client asked for).
	out.URL.Scheme = "http"
	out.URL.Host = x.backend.Addr
	out.URL.User = nil
	out.Host = pr.In.Host

	setForwarded(x, pr.In, out.Header, g.trusted)

	// Request trailers: ReverseProxy's copy of the request has a copy of
	// the Trailer map made before the client's body was read, so the
	// trailers' values would be lost while the Transport still announces
	// them. The server fills the original map when the body ends, on the
	// goroutine the Transport reads the body and writes the trailers on.
	out.Trailer = pr.In.Trailer
	out.Header["X-Request-Id"] = x.requestID

	// Only websockets may switch protocols through the gateway (h2c and
	// friends would bypass it); anything else is forwarded as a plain
	// request, and a backend that answers 101 anyway gets a 502.
	if up, ok := out.Header["Upgrade"]; ok && (len(up) != 1 || !strings.EqualFold(up[0], "websocket")) {
		delete(out.Header, "Upgrade")
		delete(out.Header, "Connection")
	}
}

// modifyResponse runs after ReverseProxy stripped the response's
// hop-by-hop headers (except on a 101, where Connection/Upgrade must
// stay). It replaces any X-Request-Id the backend sent with ours and,
// on a sticky route, pins the client to the backend that answered.
func (g *Gateway) modifyResponse(res *http.Response) error {
	if res.StatusCode < 100 { // "099" parses; WriteHeader would panic on it
		return errors.New("backend sent an invalid status code " + strconv.Itoa(res.StatusCode))
	}
	x := exchangeFrom(res.Request.Context())
	res.Header["X-Request-Id"] = x.requestID
	if x.sticky {
		g.setStickyCookie(x, res.Header)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		x.status = http.StatusSwitchingProtocols // no WriteHeader on hijack
	}
	return nil
}

// proxyError answers a failed round trip with a JSON error. The backend
// address stays in the log, never in the response.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	g.proxyFailed(r.Context(), exchangeFrom(r.Context()), err)
}

// proxyFailed answers x, whose round trip failed with err; ctx is the
// request's.
func (g *Gateway) proxyFailed(ctx context.Context, x *exchange, err error) {
	f := classifyProxy(x.route, ctx, err)
	level := slog.LevelWarn
	if f.status == StatusClientClosedRequest {
		level = slog.LevelDebug
	}
	g.log.Log(ctx, level, "proxy to instance failed",
		"stack", x.route.Stack, "stage", x.route.Stage, "instance", x.backend.ID,
		"addr", x.backend.Addr, "request_id", x.requestID[0], "status", f.status, "err", err)
	x.fail(f)
}
