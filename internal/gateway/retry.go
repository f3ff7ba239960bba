package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
)

// maxAttempts bounds the round trips of one request: the first and two
// retries, each on a different backend when the route has one.
const maxAttempts = 3

// retrier is the ReverseProxy's RoundTripper: it sends the request
// through the gateway's Transport and, when an attempt fails with a
// connection error before any byte of a response arrived and the request
// can safely be sent again, sends it to another backend of the route.
//
// http.Transport already retries, on a new connection to the same
// backend, an idempotent request whose reused keep-alive connection turned
// out to be dead; retrier covers what it cannot: a backend that is gone.
// It runs on the serving goroutine (ReverseProxy calls it synchronously),
// so it may change the exchange without locks.
type retrier struct{ g *Gateway }

var _ http.RoundTripper = retrier{}

func (rt retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	var body *replayBody
	if req.Body != nil && req.Body != http.NoBody {
		// Only here is the outbound request copied: a GET has no body.
		x.body = replayBody{rc: req.Body, left: -1}
		if req.ContentLength > 0 {
			x.body.left = req.ContentLength
		}
		body = &x.body
		out := *req
		out.Body = body
		req = &out
	}
	for {
		x.attempts++
		resp, err := rt.g.transport.RoundTrip(req)
		if err == nil {
			return resp, nil
		}
		if err := rt.g.nextAttempt(req.Context(), x, req.Method, body, err); err != nil {
			return nil, err
		}
		// A shallow copy per retry: the failed attempt's request may still
		// be referenced by the Transport, and the header map is shared, so
		// every attempt sends the same X-Forwarded-* and X-Request-Id.
		out, u := *req, *req.URL
		u.Host = x.backend.Addr
		out.URL = &u
		req = &out
	}
}

// nextAttempt handles a failed attempt: it reports a connection error to
// Upstreams (passive health), and when the request may be retried it
// releases the failed backend and acquires another one into x. It returns
// nil to retry, or the error to answer with.
func (g *Gateway) nextAttempt(ctx context.Context, x *exchange, method string, body *replayBody, err error) error {
	if ctx.Err() != nil {
		return err // the client left: not the backend's fault
	}
	failed, nothingSent := connFailure(err)
	if !failed {
		return err
	}
	failover, _ := x.upstreams.(Failover)
	if failover != nil {
		failover.Failed(x.route, x.backend)
	}
	if x.attempts >= maxAttempts || x.informed || !replayable(method, body, nothingSent) {
		return err
	}
	g.log.Info("instance failed, retrying on another", "stack", x.route.Stack, "stage", x.route.Stage,
		"instance", x.backend.ID, "addr", x.backend.Addr, "request_id", x.requestID[0],
		"attempt", x.attempts, "err", err)

	x.tried = append(x.tried, x.backend)
	x.releaseBackend()
	// The newest table may already have dropped the failed instance.
	route := x.route
	if r, ok := g.table.Load().Lookup(route.Host); ok {
		route = r
	}
	var b Backend
	var release func()
	var aerr error
	if failover != nil {
		b, release, aerr = failover.AcquireExcept(ctx, route, x.tried)
	} else {
		b, release, aerr = x.upstreams.Acquire(ctx, route)
	}
	if aerr == nil && b.Addr == "" {
		aerr = ErrNoBackend
	}
	if aerr != nil {
		if release != nil {
			release()
		}
		g.log.Debug("no instance to retry on", "stack", route.Stack, "stage", route.Stage,
			"request_id", x.requestID[0], "err", aerr)
		if ctx.Err() != nil && errors.Is(aerr, context.Canceled) {
			return aerr // answered as the client leaving
		}
		return err // answered as the attempt's failure, as without retries
	}
	x.route, x.backend, x.release = route, b, release
	return nil
}

// connFailure reports whether err, returned by a round trip in place of a
// response, means the backend is unreachable or dropped the connection
// before any byte of a response (failed), and whether nothing of the
// request was sent (a dial error). A timeout waiting for headers is not a
// connection failure: the backend is slow, not gone, and may be working
// on the request. Neither is a malformed response.
func connFailure(err error) (failed, nothingSent bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true, true // refused, unreachable or timed out: nothing sent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false, false
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return false, false
	}
	switch {
	case op != nil, // read or write on the connection: reset, broken pipe
		errors.Is(err, io.EOF), // closed before the response
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true, false
	}
	return false, false
}

// replayable reports whether a request that failed with a connection
// error may be sent again. A request with a body only when nothing was
// sent and nothing of the body read; one without a body when nothing was
// sent, or, if its method is safe, also when the backend may have seen
// it (it cannot have had an effect that matters).
func replayable(method string, body *replayBody, nothingSent bool) bool {
	if body != nil {
		return nothingSent && !body.read.Load()
	}
	if nothingSent {
		return true
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// replayBody keeps a request body usable for another attempt until its
// first byte is read. The Transport closes the body when a dial fails,
// which would end the client's upload; so Close is held back while
// nothing was read. ReverseProxy closes the client's body anyway when the
// request ends. The Transport reads and closes from its own goroutine,
// hence the atomic.
//
// It also ends the body itself, at its declared length or at the EOF rc
// returned, without reading rc again. After sending a body of known
// length the Transport reads it once more, to check it is not longer
// (transferWriter.writeBody); by then the backend may have answered and
// net/http's server, writing that answer's head, may have drained and
// closed the client's body (chunkWriter.writeHeader): the read would fail
// with ErrBodyReadAfterClose, and the Transport would close the backend
// connection under the response being relayed, cutting it.
type replayBody struct {
	rc   io.ReadCloser
	read atomic.Bool
	left int64 // bytes of the declared length not read yet; -1: no length
	eof  bool  // rc returned io.EOF
}

func (b *replayBody) Read(p []byte) (int, error) {
	if b.eof || b.left == 0 {
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	b.read.Store(true)
	n, err := b.rc.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *replayBody) Close() error {
	if !b.read.Load() {
		return nil
	}
	return b.rc.Close()
}
