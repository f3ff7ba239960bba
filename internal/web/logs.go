package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// maxLogLines bounds one page (or one fetch) of log lines: the newest.
const maxLogLines = 1000

type logsView struct {
	Stage   string
	Kind    string
	Kinds   []string
	Since   string
	Grep    string
	Lines   []LogLine
	Last    string // the newest line's time (RFC 3339, ns), where following resumes
	NoStore bool
	Error   string
}

// logQuery reads the viewer's filters: kind (runtime by default), since
// (a duration back from now, 1h by default) and grep.
func (d *Dashboard) logQuery(r *http.Request) (LogQuery, string, error) {
	q := r.URL.Query()
	lq := LogQuery{Stack: r.PathValue("stack"), Stage: r.PathValue("stage"), Kind: q.Get("kind"), Grep: q.Get("grep"), Limit: maxLogLines}
	if lq.Kind == "" {
		lq.Kind = "runtime"
	}
	if !slices.Contains(LogKinds, lq.Kind) {
		return lq, "", core.Errorf(core.CodeInvalid, "invalid log kind %q: use %s", lq.Kind, strings.Join(LogKinds, ", "))
	}
	since := q.Get("since")
	if since == "" {
		since = "1h"
	}
	t, err := parseSince(since, d.now())
	if err != nil {
		return lq, since, core.Errorf(core.CodeInvalid, "since must be a duration like 15m, 24h or 7d, or an RFC 3339 time like 2026-11-22T08:00:00Z, got %q", since)
	}
	lq.Since = t
	return lq, since, nil
}

// parseSince reads since as slipway logs --since does: a duration back
// from now (whole days with d, as logs are kept for 90 by default) or
// an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 && days <= 100*365 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid since %q", s)
	}
	return t, nil
}

func (d *Dashboard) logs(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	st, err := d.cfg.Service.Status(r.Context(), stack)
	if err != nil {
		return err
	}
	if !hasStage(st, stage) {
		return core.Errorf(core.CodeNotFound, "stack %s has no stage %s", stack, stage)
	}
	lq, since, err := d.logQuery(r)
	v := logsView{Stage: stage, Kind: lq.Kind, Kinds: LogKinds, Since: since, Grep: lq.Grep, NoStore: d.cfg.Logs == nil}
	switch {
	case err != nil:
		v.Error = err.Error()
	case d.cfg.Logs != nil:
		lines, err := d.cfg.Logs.ReadLogs(r.Context(), lq)
		if err != nil {
			v.Error = err.Error()
		}
		v.Lines = lines
		v.Last = lq.Since.UTC().Format(time.RFC3339Nano)
		if len(lines) > 0 {
			v.Last = lines[len(lines)-1].Time.UTC().Format(time.RFC3339Nano)
		}
	}
	return d.render(w, r, ss, http.StatusOK, "logs.html", view{Title: stage + " of " + stack + ": logs", Stack: stack, Data: v})
}

// logLines answers the viewer's script while it follows: the lines after
// the time in "after", as JSON {"lines": [...]}.
func (d *Dashboard) logLines(w http.ResponseWriter, r *http.Request, ss *session) error {
	if d.cfg.Logs == nil {
		return core.Errorf(core.CodeUnavailable, "this server keeps no logs for the dashboard")
	}
	lq, _, err := d.logQuery(r)
	if err != nil {
		return err
	}
	after, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("after"))
	if err != nil {
		return core.Errorf(core.CodeInvalid, "after must be an RFC 3339 time, got %q", r.URL.Query().Get("after"))
	}
	lq.Since = after
	lines, err := d.cfg.Logs.ReadLogs(r.Context(), lq)
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []LogLine{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"lines": lines})
}
