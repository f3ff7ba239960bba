package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
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
		Rewrite:        rewrite,
		Transport:      retrier{g},
		BufferPool:     newBufferPool(),
		ModifyResponse: modifyResponse,
		ErrorHandler:   g.proxyError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// rewrite points the outbound request at the chosen backend. By the time
// it runs ReverseProxy has already removed hop-by-hop headers (keeping
// Connection/Upgrade for protocol switches and "TE: trailers") and the
// client's Forwarded and X-Forwarded-* headers.
func rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	out := pr.Out

	// Set the URL in place instead of pr.SetURL: it would allocate a URL
	// per request and clear Host, which we want to keep (like ALB, the
	// app sees the host the client asked for).
	out.URL.Scheme = "http"
	out.URL.Host = x.backend.Addr
	out.URL.User = nil
	out.Host = pr.In.Host

	setForwarded(x, pr.In, out.Header)
	out.Header["X-Request-Id"] = x.requestID

	// Only websockets may switch protocols through the gateway (h2c and
	// friends would bypass it); anything else is forwarded as a plain
	// request, and a backend that answers 101 anyway gets a 502.
	if up, ok := out.Header["Upgrade"]; ok && (len(up) != 1 || !strings.EqualFold(up[0], "websocket")) {
		delete(out.Header, "Upgrade")
		delete(out.Header, "Connection")
	}
}

// setForwarded sets X-Forwarded-For (the client's chain plus the client
// IP), X-Forwarded-Host (the original Host) and X-Forwarded-Proto. It does
// what ProxyRequest.SetXForwarded does, except that SetXForwarded reads
// the prior chain from the outbound request, from which ReverseProxy has
// already removed it, so the client's chain would be lost.
func setForwarded(x *exchange, in *http.Request, h http.Header) {
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		switch prior := in.Header["X-Forwarded-For"]; len(prior) {
		case 0:
			x.fwd[0] = ip
		case 1:
			x.fwd[0] = prior[0] + ", " + ip
		default:
			x.fwd[0] = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = x.fwd[0:1:1]
	}
	x.fwd[1] = in.Host
	h["X-Forwarded-Host"] = x.fwd[1:2:2]
	x.fwd[2] = "http"
	if in.TLS != nil {
		x.fwd[2] = "https"
	}
	h["X-Forwarded-Proto"] = x.fwd[2:3:3]
}

// modifyResponse runs after ReverseProxy stripped the response's
// hop-by-hop headers (except on a 101, where Connection/Upgrade must
// stay). It replaces any X-Request-Id the backend sent with ours.
func modifyResponse(res *http.Response) error {
	x := exchangeFrom(res.Request.Context())
	res.Header["X-Request-Id"] = x.requestID
	if res.StatusCode == http.StatusSwitchingProtocols {
		x.status = http.StatusSwitchingProtocols // no WriteHeader on hijack
	}
	return nil
}

// proxyError answers a failed round trip with a JSON error. The backend
// address stays in the log, never in the response.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	f := classifyProxy(x.route, r.Context(), err)
	level := slog.LevelWarn
	if f.status == StatusClientClosedRequest {
		level = slog.LevelDebug
	}
	g.log.Log(r.Context(), level, "proxy to instance failed",
		"stack", x.route.Stack, "stage", x.route.Stage, "instance", x.backend.ID,
		"addr", x.backend.Addr, "request_id", x.requestID[0], "status", f.status, "err", err)
	x.fail(f)
}
