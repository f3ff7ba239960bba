package serverless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/lambda"
)

// Response headers every serverless answer carries.
const (
	HeaderColdStart = "X-Slipway-Cold-Start" // true or false
	HeaderInitMS    = "X-Slipway-Init-Ms"    // a cold start's init time
)

// request serves one request on the instance whose slot it holds.
type request struct {
	c       *Controller
	in      *instance
	cold    bool
	arrived time.Time
}

// writeError answers in the gateway's JSON error shape.
func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	gateway.WriteError(w, status, code, fmt.Sprintf(format, args...))
}

// ServeHTTP enforces the stage's limits around one invocation and meters
// it: the 6 MB payload limit both ways, the timeout (504, and the
// instance is replaced) and the memory limit (an OOM kill is a 502 that
// says so).
func (q *request) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, spec := q.in, q.in.spec
	inv := core.Invocation{Stack: in.st.key.stack, Stage: in.st.key.stage, Time: q.arrived, MemoryMB: spec.MemoryMB, ColdStart: q.cold}
	if q.cold {
		inv.Init = in.init
		w.Header().Set(HeaderInitMS, strconv.FormatInt(in.init.Milliseconds(), 10))
		gateway.MarkColdStart(w, in.init)
	}
	w.Header().Set(HeaderColdStart, strconv.FormatBool(q.cold))
	status := q.serve(w, r, &inv)
	inv.Status = status
	q.c.cfg.Meter(inv)
}

// serve runs the invocation and returns the status answered.
func (q *request) serve(w http.ResponseWriter, r *http.Request, inv *core.Invocation) int {
	in, spec := q.in, q.in.spec
	body, err := io.ReadAll(io.LimitReader(r.Body, core.MaxPayloadBytes+1))
	if err != nil {
		return http.StatusBadRequest
	}
	if len(body) > core.MaxPayloadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
			"the request body is over 6 MB, the limit of a synchronous invocation")
		return http.StatusRequestEntityTooLarge
	}
	// Billed from here: the body is in, as Lambda's payload is before
	// its handler runs.
	ctx, cancel := context.WithTimeout(r.Context(), spec.Timeout.D())
	defer cancel()
	started := time.Now()
	var res *response
	if in.fn != nil {
		res, err = q.invokeLambda(ctx, r, body)
	} else {
		res, err = q.proxy(ctx, r, body)
	}
	inv.Duration = time.Since(started)
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		if in.fn != nil {
			// The runtime still works on the abandoned event and would
			// refuse the next: replace the instance, as a timeout does.
			q.c.kill(in, "client left mid-invocation")
		}
		return 499 // the client left; nothing to write
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		inv.TimedOut = true
		q.c.kill(in, "timed out")
		writeError(w, http.StatusGatewayTimeout, "function_timeout",
			"the request ran past stage %s's timeout of %s; its instance was stopped and will be replaced", in.st.key.stage, spec.Timeout)
		return http.StatusGatewayTimeout
	default:
		var fe *functionError
		if errors.As(err, &fe) {
			writeError(w, fe.status, fe.code, "%s", fe.message)
			return fe.status
		}
		return q.failed(w, err)
	}
	if len(res.body) > core.MaxPayloadBytes {
		writeError(w, http.StatusBadGateway, "response_too_large",
			"the function's response is over 6 MB, the limit of a synchronous invocation")
		return http.StatusBadGateway
	}
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	w.Write(res.body)
	return res.status
}

// response is a whole, buffered answer (Lambda returns payloads whole).
type response struct {
	status int
	header http.Header
	body   []byte
}

// functionError is an answer the activator gives instead of the function.
type functionError struct {
	status  int
	code    string
	message string
}

func (e *functionError) Error() string { return e.message }

// hopHeaders are per-connection headers a proxy does not forward.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// proxy sends the request to an http handler's instance and reads the
// answer whole, at most 6 MB and a byte.
func (q *request) proxy(ctx context.Context, r *http.Request, body []byte) (*response, error) {
	out, err := http.NewRequestWithContext(ctx, r.Method, "http://"+q.in.addr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	// The gateway has put its X-Forwarded-* in place of the client's
	// (its direct peer last); a request from elsewhere (an invoke) gets
	// the ones it lacks.
	if _, ok := out.Header["X-Forwarded-For"]; !ok {
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			out.Header.Set("X-Forwarded-For", ip)
		}
	}
	if _, ok := out.Header["X-Forwarded-Host"]; !ok {
		out.Header.Set("X-Forwarded-Host", r.Host)
	}
	if _, ok := out.Header["X-Forwarded-Proto"]; !ok {
		out.Header.Set("X-Forwarded-Proto", "http")
	}
	resp, err := q.c.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, core.MaxPayloadBytes+1))
	if err != nil {
		return nil, err
	}
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// invokeLambda turns the request into an API Gateway event, hands it to
// the function through the Runtime API and turns its result back.
func (q *request) invokeLambda(ctx context.Context, r *http.Request, body []byte) (*response, error) {
	in, spec := q.in, q.in.spec
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = randomSuffix() + randomSuffix()
	}
	var event []byte
	var err error
	if spec.Payload == core.PayloadV1 {
		event, err = lambda.HTTPEventV1(r, body, in.st.key.stage, id, q.arrived)
	} else {
		event, err = lambda.HTTPEventV2(r, body, in.st.key.stage, id, q.arrived)
	}
	if err != nil {
		return nil, &functionError{http.StatusBadRequest, "bad_request", err.Error()}
	}
	payload, err := q.c.invoke(ctx, in, id, event)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}}
	if err := lambda.WriteHTTPResponse(rec, payload, spec.Payload); err != nil {
		q.c.log.Warn("function answered with an invalid response", "stack", in.st.key.stack, "stage", in.st.key.stage, "err", err)
		return nil, &functionError{http.StatusBadGateway, "invalid_function_response", "the function's response is not a valid API Gateway response: " + err.Error()}
	}
	return &response{status: rec.status, header: rec.header, body: rec.body.Bytes()}, nil
}

// invoke hands one event to a lambda instance and returns its response
// payload; a function error becomes a 502 that names it, and is logged.
func (c *Controller) invoke(ctx context.Context, in *instance, id string, event []byte) ([]byte, error) {
	res, err := in.fn.Invoke(ctx, lambda.Invocation{RequestID: id, Payload: event, Deadline: deadline(ctx)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, lambda.ErrResponseTooLarge) {
			return nil, &functionError{http.StatusBadGateway, "response_too_large", "the function's response is over 6 MB, the limit of a synchronous invocation"}
		}
		return nil, err
	}
	if res.Error != nil {
		c.log.Warn("function error", "stack", in.st.key.stack, "stage", in.st.key.stage, "request_id", id,
			"error_type", res.Error.Type, "error_message", res.Error.Message)
		return nil, &functionError{http.StatusBadGateway, "function_error", fmt.Sprintf("the function failed: %s: %s", res.Error.Type, res.Error.Message)}
	}
	return res.Payload, nil
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// recorder buffers what lambda.WriteHTTPResponse writes.
type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// failed answers a round trip that broke: the instance ran out of
// memory, exited, or closed the connection. It is replaced either way.
func (q *request) failed(w http.ResponseWriter, err error) int {
	in := q.in
	ct, known := q.c.exitOf(in)
	q.c.kill(in, "failed a request")
	switch {
	case known && ct.OOMKilled:
		q.c.mu.Lock()
		in.st.crash = &core.CrashInfo{Instance: in.name, Time: time.Now().UTC(), ExitCode: ct.ExitCode, OOM: true}
		q.c.mu.Unlock()
		writeError(w, http.StatusBadGateway, "out_of_memory",
			"the instance ran out of its %d MB of memory and was killed; raise serverless.memory in slipway.yml", in.spec.MemoryMB)
	case known:
		writeError(w, http.StatusBadGateway, "instance_exited", "the instance exited with code %d during the request", ct.ExitCode)
	default:
		writeError(w, http.StatusBadGateway, "bad_gateway", "the instance closed the connection or sent an invalid response: %v", err)
	}
	return http.StatusBadGateway
}
