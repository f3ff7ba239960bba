package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
)

// Runtime API headers (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go streams responses and, when the stream fails midway,
	// reports the error in these trailers instead of posting /error.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// Errors that end a GET /next without an event; see Server.next.
var (
	errUnregistered = errors.New("instance unregistered")
	errInitReported = errors.New("init error already reported")
)

// Server serves the Lambda Runtime API to the registered instances. The
// identify function given to NewServer names the instance a request comes
// from; requests from anyone else get 403.
type Server struct {
	identify func(*http.Request) (string, bool)
	log      *slog.Logger
	mux      *http.ServeMux

	mu        sync.RWMutex
	instances map[string]*Instance
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server with no instances. identify maps a request to
// the key its instance was registered under (the activator uses the
// caller's IP). A nil logger discards.
func NewServer(identify func(*http.Request) (string, bool), logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		identify:  identify,
		log:       logger.With("component", "lambda"),
		mux:       http.NewServeMux(),
		instances: make(map[string]*Instance),
	}
	const base = "/2018-06-01/runtime"
	s.mux.HandleFunc("GET "+base+"/invocation/next", s.withInstance(s.next))
	s.mux.HandleFunc("POST "+base+"/invocation/{id}/response", s.withInstance(s.response))
	s.mux.HandleFunc("POST "+base+"/invocation/{id}/error", s.withInstance(s.invocationError))
	s.mux.HandleFunc("POST "+base+"/init/error", s.withInstance(s.initError))
	return s
}

// Register adds an instance under key, replacing (and unregistering) any
// instance the key had.
func (s *Server) Register(key string, fn FunctionInfo) *Instance {
	in := newInstance(fn, s.log.With("instance", key, "function", fn.Name))
	s.mu.Lock()
	old := s.instances[key]
	s.instances[key] = in
	s.mu.Unlock()
	if old != nil {
		old.unregister()
	}
	return in
}

// Unregister removes the instance under key: its waiting Invoke returns
// ErrUnregistered and its pending GET /next ends. Unknown keys are ignored.
func (s *Server) Unregister(key string) {
	s.mu.Lock()
	in := s.instances[key]
	delete(s.instances, key)
	s.mu.Unlock()
	if in != nil {
		in.unregister()
	}
}

// ServeHTTP serves the Runtime API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) withInstance(h func(http.ResponseWriter, *http.Request, *Instance)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in *Instance
		if key, ok := s.identify(r); ok {
			s.mu.RLock()
			in = s.instances[key]
			s.mu.RUnlock()
		}
		if in == nil {
			s.log.Warn("runtime API call from an unknown caller", "remote", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, "Forbidden", "caller is not a registered function instance")
			return
		}
		h(w, r, in)
	}
}

// next is GET /invocation/next: a long poll for the instance's next event.
func (s *Server) next(w http.ResponseWriter, r *http.Request, in *Instance) {
	c, err := in.next(r.Context())
	switch {
	case errors.Is(err, errInitReported):
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error already reported")
		return
	case err != nil:
		// The 500 the API documents for "non-recoverable state, exit".
		writeError(w, http.StatusInternalServerError, "ContainerError", "instance unregistered; exit")
		return
	case c == nil:
		return // the runtime hung up
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(headerRequestID, c.inv.RequestID)
	h.Set(headerDeadline, strconv.FormatInt(c.deadline.UnixMilli(), 10))
	h.Set(headerFunctionARN, in.fn.InvokedARN())
	h.Set(headerTraceID, c.inv.TraceID)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(c.inv.Payload); err != nil {
		in.log.Warn("deliver event", "request_id", c.inv.RequestID, "err", err)
	}
}

// response is POST /invocation/{id}/response.
func (s *Server) response(w http.ResponseWriter, r *http.Request, in *Instance) {
	id := r.PathValue("id")
	payload, err := readPayload(r)
	if errors.Is(err, errTooLarge) {
		if in.answer(id, outcome{err: ErrResponseTooLarge}) {
			writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
				"Exceeded maximum allowed payload size ("+strconv.Itoa(MaxPayloadSize)+" bytes).")
		} else {
			writeInvalidID(w)
		}
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", err.Error())
		return
	}
	res := Result{Payload: payload, ContentType: r.Header.Get("Content-Type")}
	if t := r.Trailer.Get(trailerErrorType); t != "" {
		body, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		fe := parseFunctionError(body, t)
		res = Result{Error: &fe}
	}
	if !in.answer(id, outcome{res: res}) {
		writeInvalidID(w)
		return
	}
	writeAccepted(w)
}

// invocationError is POST /invocation/{id}/error.
func (s *Server) invocationError(w http.ResponseWriter, r *http.Request, in *Instance) {
	body, err := readPayload(r)
	if err != nil && !errors.Is(err, errTooLarge) {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", err.Error())
		return
	}
	// An error body over the limit is cut, not refused: the error matters
	// more than its tail.
	fe := parseFunctionError(body, r.Header.Get(headerErrorType))
	if !in.answer(r.PathValue("id"), outcome{res: Result{Error: &fe}}) {
		writeInvalidID(w)
		return
	}
	writeAccepted(w)
}

// initError is POST /init/error.
func (s *Server) initError(w http.ResponseWriter, r *http.Request, in *Instance) {
	body, err := readPayload(r)
	if err != nil && !errors.Is(err, errTooLarge) {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", err.Error())
		return
	}
	fe := parseFunctionError(body, r.Header.Get(headerErrorType))
	if !in.reportInitError(fe) {
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init is over or its error was already reported")
		return
	}
	in.log.Info("function init failed", "error_type", fe.Type, "error", fe.Message)
	writeAccepted(w)
}

var errTooLarge = errors.New("payload too large")

// readPayload reads a runtime's request body, at most MaxPayloadSize bytes
// of it (then errTooLarge, with the first MaxPayloadSize bytes).
func readPayload(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPayloadSize {
		// Read on a little, so the runtime sees our answer rather than a
		// reset connection, but not without bound.
		_, _ = io.CopyN(io.Discard, r.Body, 8*MaxPayloadSize)
		return b[:MaxPayloadSize], errTooLarge
	}
	return b, nil
}

func writeAccepted(w http.ResponseWriter) {
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// writeInvalidID is the Runtime API's answer to an unknown request id, or
// one already answered.
func writeInvalidID(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
}

// writeError writes the Runtime API's ErrorResponse.
func writeError(w http.ResponseWriter, status int, errorType, message string) {
	writeJSON(w, status, map[string]string{"errorType": errorType, "errorMessage": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the runtime hung up: nothing to do
}
