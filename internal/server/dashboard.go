package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/accesslog"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/web"
)

// The dashboard reads the metrics store (storeMetrics) and the log store
// through the service's ReadLogs (storeLogs), both shaped into what
// package web declares.

// storeMetrics implements web.Metrics over the metrics store.
type storeMetrics struct{ store metricsQuery }

var _ web.Metrics = storeMetrics{}

func (m storeMetrics) Series(stack, stage, metric string, from, to time.Time, step time.Duration) []web.Point {
	ps := m.store.Query(metricKey(stack, stage, metric), from, to, step)
	out := make([]web.Point, len(ps))
	for i, p := range ps {
		out[i] = web.Point{T: p.T, V: p.V}
	}
	return out
}

// readLogs reads stored log entries (service.Service.ReadLogs: it checks
// the stack and stage and picks the streams).
type readLogs func(ctx context.Context, stack string, q service.LogQuery, fn func(logstore.Entry) error) error

// storeLogs implements web.Logs over the log store.
type storeLogs struct{ read readLogs }

var _ web.Logs = storeLogs{}

func (l storeLogs) ReadLogs(ctx context.Context, q web.LogQuery) ([]web.LogLine, error) {
	kind, err := logstore.ParseKind(q.Kind)
	if err != nil {
		return nil, core.Errorf(core.CodeInvalid, "%v", err)
	}
	stage := q.Stage
	if kind == logstore.Build {
		stage = "" // builds are the stack's; the viewer shows them on every stage
	}
	var out []web.LogLine
	err = l.read(ctx, q.Stack, service.LogQuery{Kind: kind, Stage: stage, Since: q.Since, Grep: q.Grep, Tail: q.Limit}, func(e logstore.Entry) error {
		if e.Time.After(q.Since) { // the viewer follows from its last line: exclusive
			out = append(out, entryLine(kind, e))
		}
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
			if v.Release != "" {
				ln.Instance = v.Release
			}
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

// accessText is an access log entry on one line, as a web server's
// access log reads: method, path, status, latency, bytes, and the rest.
func accessText(e accesslog.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s %d %.1fms %dB client=%s", e.Method, e.Host, e.Path, e.Status, e.LatencyMS, e.Bytes, e.ClientIP)
	if e.APIKey != "" {
		b.WriteString(" key=" + e.APIKey)
	}
	if e.ColdStart {
		fmt.Fprintf(&b, " cold_start init=%dms", e.InitMS)
	}
	b.WriteString(" id=" + e.RequestID)
	return b.String()
}

// shortID shortens a container ID as docker ps does.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
