package server

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/slipwayhq/slipway/internal/accesslog"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/web"
)

// logReader is what the dashboard reads of the log store (logstore.Store).
type logReader interface {
	Read(ctx context.Context, q logstore.Query, fn func(logstore.Entry) error) error
}

var _ logReader = (*logstore.Store)(nil)

// storeLogs implements web.Logs over the log store.
type storeLogs struct{ store logReader }

var _ web.Logs = storeLogs{}

func (l storeLogs) ReadLogs(ctx context.Context, q web.LogQuery) ([]web.LogLine, error) {
	kind, err := logstore.ParseKind(q.Kind)
	if err != nil {
		return nil, core.Errorf(core.CodeInvalid, "%v", err)
	}
	key := logstore.Key{Stack: q.Stack, Stage: q.Stage, Kind: kind}
	if kind == logstore.Build {
		key.Stage = "" // builds are the stack's
	}
	since := q.Since
	lq := logstore.Query{Keys: []logstore.Key{key}, Since: since, Grep: q.Grep, Tail: q.Limit,
		Match: func(e logstore.Entry) bool { return e.Time.After(since) }} // the viewer follows from its last line, exclusive
	var out []web.LogLine
	err = l.store.Read(ctx, lq, func(e logstore.Entry) error {
		out = append(out, entryLine(kind, e))
		return nil
	})
	return out, err
}

// entryLine shows one stored entry as a line of the viewer.
func entryLine(kind logstore.Kind, e logstore.Entry) web.LogLine {
	ln := web.LogLine{Time: e.Time, Text: string(e.JSON)}
	switch kind {
	case logstore.Runtime:
		var v logstore.Line
		if json.Unmarshal(e.JSON, &v) == nil {
			ln.Instance, ln.Text = v.Instance, v.Text
			if v.Stream == logstore.Stderr {
				ln.Text = "stderr: " + v.Text
			}
		}
	case logstore.Build, logstore.Release:
		var v core.Event
		if json.Unmarshal(e.JSON, &v) == nil {
			ln.Instance = v.Build
			ln.Text = strings.TrimSpace(string(v.Type) + " " + v.Message + " " + strings.Join(v.Details, " "))
		}
	case logstore.Access:
		var v accesslog.Entry
		if json.Unmarshal(e.JSON, &v) == nil {
			ln.Instance, ln.Text = shortID(v.Instance), accessText(v)
		}
	}
	return ln
}
