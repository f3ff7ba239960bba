// Command app is a starter web service for Slipway: a few utility
// endpoints and an in-memory CRUD resource at /local-item.
//
// It uses only the standard library, so it builds offline into one static
// binary that runs in a FROM scratch image.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// shutdownTimeout is how long in-flight requests get to finish after
// SIGTERM. It stays under Docker's default 10 s stop timeout, after which
// the container is killed anyway.
const shutdownTimeout = 8 * time.Second

// maxBodyBytes caps request bodies so a client cannot exhaust memory.
const maxBodyBytes = 1 << 20

func main() {
	// JSON lines on stdout: Slipway (like any container platform) collects
	// stdout as the runtime log.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))

	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	// All interfaces: inside a container, 127.0.0.1 is unreachable from
	// the gateway.
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		logger.Error("listen", "err", err)
		os.Exit(1)
	}

	// As PID 1 in a scratch image there is no init to forward or default
	// signals, so the app must handle SIGTERM itself or `docker stop`
	// waits out its timeout and kills requests mid-flight.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	if err := run(ctx, ln, newHandler(newStore()), logger); err != nil {
		logger.Error("server", "err", err)
		os.Exit(1)
	}
}

// run serves h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting connections and waits for in-flight requests.
func run(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           logRequests(logger, h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err // Serve failed before any shutdown was asked for
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler wires the routes. Method-qualified patterns let the mux
// answer 405 with an Allow header; jsonErrors makes those answers JSON.
func newHandler(s *store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", text("hello world!"))
	mux.HandleFunc("GET /ping", text("pong"))
	mux.HandleFunc("GET /healthy", text("healthy"))
	mux.HandleFunc("GET /env-var", func(w http.ResponseWriter, r *http.Request) {
		text(os.Getenv("TEST_ENV_VAR"))(w, r)
	})

	mux.HandleFunc("GET /local-item", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.list())
	})
	mux.HandleFunc("POST /local-item", func(w http.ResponseWriter, r *http.Request) {
		in, ok := decodeItem(w, r)
		if !ok {
			return
		}
		it := s.create(in)
		w.Header().Set("Location", "/local-item/"+it.ID)
		writeJSON(w, http.StatusCreated, it)
	})
	mux.HandleFunc("GET /local-item/{id}", func(w http.ResponseWriter, r *http.Request) {
		it, ok := s.get(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "item not found")
			return
		}
		writeJSON(w, http.StatusOK, it)
	})
	mux.HandleFunc("PUT /local-item/{id}", func(w http.ResponseWriter, r *http.Request) {
		in, ok := decodeItem(w, r)
		if !ok {
			return
		}
		it, ok := s.update(r.PathValue("id"), in)
		if !ok {
			writeError(w, http.StatusNotFound, "item not found")
			return
		}
		writeJSON(w, http.StatusOK, it)
	})
	mux.HandleFunc("DELETE /local-item/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.delete(r.PathValue("id")) {
			writeError(w, http.StatusNotFound, "item not found")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return jsonErrors(mux)
}

// item is the CRUD resource, the same shape as TinyStacks' starters.
type item struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Content string `json:"content"`
}

// itemInput is what clients send; an id in the body is ignored because
// the server owns ids.
type itemInput struct {
	Title   string `json:"title"`
	Content string `json:"content"`
}

// decodeItem reads one JSON object from the body, answering 400 (or 413)
// itself when the body is unusable.
func decodeItem(w http.ResponseWriter, r *http.Request) (itemInput, bool) {
	var in itemInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	err := dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
		return in, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return in, false
	case strings.TrimSpace(in.Title) == "":
		writeError(w, http.StatusBadRequest, "title is required")
		return in, false
	}
	return in, true
}

// store keeps items in memory. Every instance has its own copy, so with
// several replicas a client may not see an item it just created: use a
// database for anything real.
type store struct {
	mu    sync.Mutex
	items map[string]item
	order []string // ids in creation order, so listings are stable
}

func newStore() *store { return &store{items: map[string]item{}} }

func (s *store) create(in itemInput) item {
	it := item{ID: newID(), Title: in.Title, Content: in.Content}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[it.ID] = it
	s.order = append(s.order, it.ID)
	return it
}

func (s *store) list() []item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]item, 0, len(s.order)) // non-nil: encodes as [] not null
	for _, id := range s.order {
		out = append(out, s.items[id])
	}
	return out
}

func (s *store) get(id string) (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	return it, ok
}

func (s *store) update(id string, in itemInput) (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; !ok {
		return item{}, false
	}
	it := item{ID: id, Title: in.Title, Content: in.Content}
	s.items[id] = it
	return it, true
}

func (s *store) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; !ok {
		return false
	}
	delete(s.items, id)
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return true
}

// newID returns a random UUID (version 4). Random rather than sequential
// ids keep replicas from handing out the same id for different items.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand aborts the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the status is sent; a failed write has no one left to tell
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// jsonErrors turns the mux's own plain-text 404 and 405 answers into
// JSON, keeping the Allow header, so clients see one error format.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An empty pattern means no route matched: the returned handler
		// is the mux's 404 or 405 responder. Run it on a recorder to learn
		// which, then answer in JSON.
		if h, pattern := mux.Handler(r); pattern == "" {
			rec := &headerRecorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusNotFound || rec.status == http.StatusMethodNotAllowed {
				if allow := rec.header.Get("Allow"); allow != "" {
					w.Header().Set("Allow", allow)
				}
				writeError(w, rec.status, strings.ToLower(http.StatusText(rec.status)))
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// headerRecorder captures a status and headers and discards the body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }

func (h *headerRecorder) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}

func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// logRequests writes one structured line per request.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Info("request",
			"method", r.Method,
			"path", r.URL.Path,
			"status", sw.status,
			"bytes", sw.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote", r.RemoteAddr,
		)
	})
}

// statusWriter remembers the status and size of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wroteHeader = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (Flush etc.).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
