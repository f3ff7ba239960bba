package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
)

func (a *API) scale(w http.ResponseWriter, r *http.Request) error {
	var ch service.ScaleChange
	if err := decode(r, &ch); err != nil {
		return err
	}
	spec, err := a.svc.Scale(r.Context(), r.PathValue("stack"), r.PathValue("stage"), ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, spec)
	return nil
}

func (a *API) events(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return core.Errorf(core.CodeInvalid, "limit must be a number from 1 to 1000, got %q", v)
		}
		limit = n
	}
	evs, err := a.svc.Events(r.Context(), r.PathValue("stack"), r.PathValue("stage"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, evs)
	return nil
}

// AbortResult is the answer of POST .../abort.
type AbortResult struct {
	Aborted string `json:"aborted"`
}

func (a *API) abort(w http.ResponseWriter, r *http.Request) error {
	rel, err := a.svc.Abort(r.Context(), r.PathValue("stack"), r.PathValue("stage"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, AbortResult{Aborted: rel})
	return nil
}

// ExecRequest is the body of POST .../exec.
type ExecRequest struct {
	Command  []string `json:"command"`
	Instance string   `json:"instance,omitempty"`
}

// ExecFrame is one NDJSON line of an exec's answer: output, or the end.
type ExecFrame struct {
	Stream   string `json:"stream,omitempty"` // stdout or stderr
	Data     string `json:"data,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (a *API) exec(w http.ResponseWriter, r *http.Request) error {
	var req ExecRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	fw := &frameWriter{w: w, rc: http.NewResponseController(w)}
	code, err := a.svc.Exec(r.Context(), r.PathValue("stack"), r.PathValue("stage"), req.Instance, req.Command,
		fw.stream("stdout"), fw.stream("stderr"))
	if err != nil && !fw.started {
		return err
	}
	end := ExecFrame{ExitCode: &code}
	if err != nil {
		end = ExecFrame{Error: err.Error()}
	}
	fw.write(end)
	return nil
}

// frameWriter turns output streams into NDJSON frames, starting the
// response with the first one.
type frameWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (f *frameWriter) write(fr ExecFrame) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		f.started = true
		f.w.Header().Set("Content-Type", streamType)
		f.w.WriteHeader(http.StatusOK)
	}
	b, _ := json.Marshal(fr)
	if _, err := f.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.rc.Flush()
}

type streamFunc func([]byte) (int, error)

func (s streamFunc) Write(p []byte) (int, error) { return s(p) }

func (f *frameWriter) stream(name string) streamFunc {
	return func(p []byte) (int, error) {
		if err := f.write(ExecFrame{Stream: name, Data: string(p)}); err != nil {
			return 0, err
		}
		return len(p), nil
	}
}

// RollbackRequest is the body of POST .../rollback; To "" means the
// release that served before the current one.
type RollbackRequest struct {
	To string `json:"to,omitempty"`
}

func (a *API) rollback(w http.ResponseWriter, r *http.Request) error {
	var req RollbackRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	return streamRelease(w, r, func(emit func(core.Event)) (core.Release, error) {
		return a.svc.Rollback(r.Context(), stack, stage, req.To, emit)
	})
}

func (a *API) approve(w http.ResponseWriter, r *http.Request) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	expect := r.URL.Query().Get("build")
	return streamRelease(w, r, func(emit func(core.Event)) (core.Release, error) {
		return a.svc.Approve(r.Context(), stack, stage, expect, emit)
	})
}

// streamRelease streams the progress of an operation that ends in a
// release (rollback, approve), then a done event naming it.
func streamRelease(w http.ResponseWriter, r *http.Request, op func(func(core.Event)) (core.Release, error)) error {
	return stream(w, r, http.StatusOK, func(fn func(core.Event) error) error {
		rel, err := op(func(ev core.Event) {
			if ev.Time.IsZero() {
				ev.Time = time.Now().UTC()
			}
			fn(ev)
		})
		if err != nil {
			return err
		}
		msg := "release " + rel.ID + " of build " + rel.Build + " serves stage " + rel.Stage
		if rel.ID == "" {
			msg = "saved"
		} else if rel.From != "" {
			msg = "release " + rel.ID + " (from " + rel.From + ") serves stage " + rel.Stage
		}
		return fn(core.Event{Time: time.Now().UTC(), Type: core.EventDone, Release: rel.ID, Stage: rel.Stage, Build: rel.Build, Message: msg})
	})
}

func (a *API) getEnv(w http.ResponseWriter, r *http.Request) error {
	vars, err := a.svc.Env(r.Context(), r.PathValue("stack"), r.PathValue("stage"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vars)
	return nil
}

func (a *API) setEnv(w http.ResponseWriter, r *http.Request) error {
	var ch service.EnvChange
	if err := decode(r, &ch); err != nil {
		return err
	}
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	return streamRelease(w, r, func(emit func(core.Event)) (core.Release, error) {
		return a.svc.SetEnv(r.Context(), stack, stage, ch, emit)
	})
}

func (a *API) getBuildEnv(w http.ResponseWriter, r *http.Request) error {
	vars, err := a.svc.Env(r.Context(), r.PathValue("stack"), "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vars)
	return nil
}

func (a *API) setBuildEnv(w http.ResponseWriter, r *http.Request) error {
	var ch service.EnvChange
	if err := decode(r, &ch); err != nil {
		return err
	}
	if err := a.svc.SetBuildEnv(r.Context(), r.PathValue("stack"), ch); err != nil {
		return err
	}
	return a.getBuildEnv(w, r)
}

func (a *API) usage(w http.ResponseWriter, r *http.Request) error {
	since := 24 * time.Hour
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return core.Errorf(core.CodeInvalid, "invalid since %q: use a duration like 1h, 24h or 168h", v)
		}
		since = d
	}
	u, err := a.svc.Usage(r.Context(), r.PathValue("stack"), r.PathValue("stage"), since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// maxEventBytes is Lambda's synchronous payload limit.
const maxEventBytes = core.MaxPayloadBytes

func (a *API) invoke(w http.ResponseWriter, r *http.Request) error {
	event, err := io.ReadAll(io.LimitReader(r.Body, maxEventBytes+1))
	if err != nil {
		return core.Wrap(core.CodeInvalid, err, "read the event: %v", err)
	}
	if len(event) > maxEventBytes {
		return core.Errorf(core.CodeInvalid, "the event is over 6 MB, the limit of a synchronous invocation")
	}
	if len(bytes.TrimSpace(event)) == 0 {
		event = []byte("{}")
	}
	if !json.Valid(event) {
		return core.Errorf(core.CodeInvalid, "the event is not valid JSON")
	}
	out, err := a.svc.Invoke(r.Context(), r.PathValue("stack"), r.PathValue("stage"), event)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	return nil
}
