package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Error codes of the data plane's JSON error bodies. They follow the API's
// {"error": {"code": ..., "message": ...}} shape so clients parse one format.
const (
	CodeNotFound          = "not_found"
	CodeNoHealthyInstance = "no_healthy_instance"
	CodeBadGateway        = "bad_gateway"
	CodeGatewayTimeout    = "gateway_timeout"
	CodePayloadTooLarge   = "payload_too_large"
)

// StatusClientClosedRequest is recorded in the access log when the client
// went away before a response was written (nginx's 499). It is never sent.
const StatusClientClosedRequest = 499

// maxHostInMessage bounds how much of a client-supplied host is echoed.
const maxHostInMessage = 255

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes the data plane's JSON error response,
// {"error": {"code": ..., "message": ...}}; backends that answer
// requests themselves (Backend.Serve) use it too. Nothing in it may
// reveal backend addresses.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<stage>" readable in messages
	_ = enc.Encode(errorBody{Error: errorDetail{Code: code, Message: message}})
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func notFoundMessage(host, domain string) string {
	if len(host) > maxHostInMessage {
		host = host[:maxHostInMessage] + "..."
	}
	return fmt.Sprintf("no stack serves host %q; stages are served at <stage>.<stack>.%s", host, domain)
}

func noHealthyMessage(r *Route) string {
	return fmt.Sprintf("stage %q of stack %q has no healthy instance", r.Stage, r.Stack)
}

// Reject is an error an Upstreams returns to have the gateway answer
// with that status, code and message (the serverless activator's 429
// throttle, say). RetryAfter, when positive, is sent as Retry-After,
// rounded up to whole seconds.
type Reject struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Header     http.Header // extra response headers
}

func (e *Reject) Error() string { return e.Message }

// retryAfter is Reject's Retry-After value, "" for none.
func (e *Reject) retryAfter() string {
	if e.RetryAfter <= 0 {
		return ""
	}
	return strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))
}

// failure is how the gateway answers an error from Upstreams or from the
// round trip to a backend.
type failure struct {
	status  int    // StatusClientClosedRequest means: write nothing
	code    string // empty when status is StatusClientClosedRequest
	message string
}

// classifyAcquire maps an Upstreams.Acquire error to a response.
func classifyAcquire(r *Route, clientCtx context.Context, err error) failure {
	var rej *Reject
	switch {
	case errors.As(err, &rej):
		return failure{rej.Status, rej.Code, rej.Message}
	case errors.Is(err, ErrNoBackend):
		return failure{http.StatusBadGateway, CodeNoHealthyInstance, noHealthyMessage(r)}
	case clientCtx.Err() != nil && errors.Is(err, context.Canceled):
		return failure{status: StatusClientClosedRequest}
	case errors.Is(err, context.DeadlineExceeded):
		return failure{http.StatusGatewayTimeout, CodeGatewayTimeout,
			fmt.Sprintf("stage %q of stack %q did not get an instance in time", r.Stage, r.Stack)}
	default:
		return failure{http.StatusBadGateway, CodeBadGateway,
			fmt.Sprintf("stage %q of stack %q could not get an instance", r.Stage, r.Stack)}
	}
}

// classifyProxy maps an error the reverse proxy reports (dial, round trip,
// protocol switch) to a response. Dial errors are 502 even when the dial
// timed out: the instance is unreachable, not slow.
func classifyProxy(r *Route, clientCtx context.Context, err error) failure {
	var op *net.OpError
	var ne net.Error
	var tooBig *http.MaxBytesError
	switch {
	case clientCtx.Err() != nil && errors.Is(err, context.Canceled):
		return failure{status: StatusClientClosedRequest}
	case errors.As(err, &tooBig):
		// A body without a length, cut off by a route's limit.
		return failure{http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("the request body is over stage %q of stack %q's limit of %d bytes", r.Stage, r.Stack, tooBig.Limit)}
	case errors.As(err, &op) && op.Op == "dial":
		return failure{http.StatusBadGateway, CodeBadGateway,
			fmt.Sprintf("instance of stage %q of stack %q could not be reached", r.Stage, r.Stack)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return failure{http.StatusGatewayTimeout, CodeGatewayTimeout,
			fmt.Sprintf("instance of stage %q of stack %q did not respond in time", r.Stage, r.Stack)}
	default:
		return failure{http.StatusBadGateway, CodeBadGateway,
			fmt.Sprintf("instance of stage %q of stack %q sent an invalid response or closed the connection", r.Stage, r.Stack)}
	}
}
