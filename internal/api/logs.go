package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

// logs serves a stack's stored logs: runtime (default), build, release
// or access; as text for people or, with format=json (and always for
// access), as the stored JSON entries, one per line.
func (a *API) logs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	stack := r.PathValue("stack")
	lq, err := logQuery(q.Get, time.Now())
	if err != nil {
		return err
	}
	format := q.Get("format")
	switch format {
	case "", "text", "json":
	default:
		return core.Errorf(core.CodeInvalid, "invalid format %q: use text or json", format)
	}
	jsonOut := format == "json" || lq.Kind == logstore.Access
	// Bad stacks, stages and kinds are answered with a JSON error before
	// any log line goes out.
	if _, err := a.svc.LogKeys(r.Context(), stack, lq); err != nil {
		return err
	}
	if jsonOut {
		w.Header().Set("Content-Type", "application/x-ndjson")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if lq.Follow {
		rc.Flush() // following may wait long for a first line
	}
	stamps := q.Get("timestamps") == "true"
	var buf bytes.Buffer
	err = a.svc.ReadLogs(r.Context(), stack, lq, func(e logstore.Entry) error {
		buf.Reset()
		if jsonOut {
			buf.Write(e.JSON)
			buf.WriteByte('\n')
		} else {
			writeLogText(&buf, e, stamps)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		if lq.Follow {
			return rc.Flush()
		}
		return nil
	})
	if err != nil && r.Context().Err() == nil {
		a.log.Warn("logs stream ended", "stack", stack, "err", err)
	}
	return nil
}

// logQuery reads a logs request's parameters.
func logQuery(get func(string) string, now time.Time) (service.LogQuery, error) {
	kind, err := logstore.ParseKind(get("kind"))
	if err != nil {
		return service.LogQuery{}, core.Errorf(core.CodeInvalid, "%v", err)
	}
	lq := service.LogQuery{Kind: kind, Stage: get("stage"), Grep: get("grep"), Follow: get("follow") == "true"}
	if v := get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, core.Errorf(core.CodeInvalid, "tail must be a whole number of lines, got %q", v)
		}
		lq.Tail = n
	}
	if lq.Since, err = logstore.ParseSince(get("since"), now); err != nil {
		return lq, core.Errorf(core.CodeInvalid, "since: %v", err)
	}
	if lq.Until, err = logstore.ParseSince(get("until"), now); err != nil {
		return lq, core.Errorf(core.CodeInvalid, "until: %v", err)
	}
	if !lq.Since.IsZero() && !lq.Until.IsZero() && !lq.Since.Before(lq.Until) {
		return lq, core.Errorf(core.CodeInvalid, "since (%s) must be before until (%s)", lq.Since.Format(time.RFC3339), lq.Until.Format(time.RFC3339))
	}
	return lq, nil
}

// writeLogText renders an entry for people: a runtime line as the
// instance wrote it (with stamps: time, instance and stream first); a
// build or release event as its time, build or release, and message.
func writeLogText(b *bytes.Buffer, e logstore.Entry, stamps bool) {
	switch e.Key.Kind {
	case logstore.Runtime:
		var l logstore.Line
		if json.Unmarshal(e.JSON, &l) != nil {
			return
		}
		if stamps {
			fmt.Fprintf(b, "%s %s %s | ", l.Time.UTC().Format(time.RFC3339Nano), l.Instance, l.Stream)
		}
		b.WriteString(l.Text)
		b.WriteByte('\n')
	case logstore.Build, logstore.Release:
		var ev core.Event
		if json.Unmarshal(e.JSON, &ev) != nil {
			return
		}
		id := ev.Build
		if e.Key.Kind == logstore.Release {
			id = ev.Release
		}
		msg := ev.Message
		switch ev.Type {
		case core.EventStep:
			msg = "==> " + msg
		case core.EventError:
			msg = "error: " + msg
		}
		fmt.Fprintf(b, "%s %s %s\n", ev.Time.UTC().Format(time.RFC3339), id, msg)
		for _, d := range ev.Details {
			b.WriteString("    " + strings.TrimRight(d, "\n") + "\n")
		}
	default:
		b.Write(e.JSON)
		b.WriteByte('\n')
	}
}
