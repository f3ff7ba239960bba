package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

func (d *Dashboard) builds(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack := r.PathValue("stack")
	list, err := d.cfg.Service.Builds(r.Context(), stack)
	if err != nil {
		return err
	}
	refresh := 0
	for _, b := range list {
		if b.Status == core.BuildRunning {
			refresh = 5
		}
	}
	return d.render(w, r, ss, http.StatusOK, "builds.html", view{Title: "Builds of " + stack, Stack: stack, Refresh: refresh, Data: list})
}

type buildView struct {
	core.Build
	Events  []core.Event
	Running bool
}

// build shows a build and its log so far. While it runs, the page's
// script appends new lines from buildEvents; without JS it reloads.
func (d *Dashboard) build(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, id := r.PathValue("stack"), r.PathValue("build")
	b, err := d.cfg.Service.Build(r.Context(), stack, id)
	if err != nil {
		return err
	}
	evs, err := d.buildLog(r.Context(), stack, id)
	if err != nil && !core.IsNotFound(err) {
		return err
	}
	v := buildView{Build: b, Events: evs, Running: b.Status == core.BuildRunning}
	refresh := 0
	if v.Running {
		refresh = 3
	}
	return d.render(w, r, ss, http.StatusOK, "build.html", view{Title: "Build " + id + " of " + stack, Stack: stack, Refresh: refresh, Data: v})
}

// buildLog returns a build's events so far without waiting for more:
// FollowBuild replays what it holds synchronously before it waits, so
// cancelling its context at the first event ends it once the events
// already there are delivered (a finished build's log replays whole).
func (d *Dashboard) buildLog(ctx context.Context, stack, id string) ([]core.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // a job with no event yet
	defer cancel()
	var evs []core.Event
	err := d.cfg.Service.FollowBuild(ctx, stack, id, func(ev core.Event) error {
		cancel()
		evs = append(evs, ev)
		return nil
	})
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return evs, err
}

// buildEvents streams a build's events after the first skip ones as
// server-sent events ("event: <type>", data: the event as JSON), until the
// build ends or the browser goes away.
func (d *Dashboard) buildEvents(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, id := r.PathValue("stack"), r.PathValue("build")
	skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
	if _, err := d.cfg.Service.Build(r.Context(), stack, id); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	n := 0
	err := d.cfg.Service.FollowBuild(r.Context(), stack, id, func(ev core.Event) error {
		n++
		if n <= skip {
			return nil
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte("event: " + string(ev.Type) + "\ndata: " + string(b) + "\n\n")); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && r.Context().Err() == nil {
		d.log.Warn("build event stream ended", "stack", stack, "build", id, "err", err)
	}
	// The end, so the script stops instead of reconnecting.
	w.Write([]byte("event: end\ndata: {}\n\n"))
	return nil
}
