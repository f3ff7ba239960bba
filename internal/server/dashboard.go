package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/accesslog"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/web"
)

// The dashboard reads metrics from the metrics store (storeMetrics) and
// logs through the service (dashboardLogs: runtime logs from the
// instances, access logs from the per-stage access log, build logs from
// the builds' event logs) until the log store is wired here; storeLogs is
// its adapter over logstore.Store, ready for that.

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

// dashboardLogs implements web.Logs over the service.
type dashboardLogs struct{ svc *service.Service }

var _ web.Logs = dashboardLogs{}

func (l dashboardLogs) ReadLogs(ctx context.Context, q web.LogQuery) ([]web.LogLine, error) {
	var lines []web.LogLine
	switch q.Kind {
	case "runtime":
		var buf bytes.Buffer
		err := l.svc.Logs(ctx, q.Stack, q.Stage, engine.LogOptions{Since: q.Since, Timestamps: true}, &buf)
		if core.IsNotFound(err) && strings.Contains(err.Error(), "no instances") {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		lines = runtimeLines(buf.String())
	case "access":
		var buf bytes.Buffer
		if err := l.svc.AccessLogs(ctx, q.Stack, q.Stage, service.AccessQuery{Since: q.Since}, &buf); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e accesslog.Entry
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				lines = append(lines, web.LogLine{Time: e.Time, Instance: shortID(e.Instance), Text: accessText(e)})
			}
		}
	case "build":
		builds, err := l.svc.Builds(ctx, q.Stack)
		if err != nil {
			return nil, err
		}
		for i := len(builds) - 1; i >= 0; i-- { // oldest first
			b := builds[i]
			if b.FinishedAt != nil && b.FinishedAt.Before(q.Since) {
				continue
			}
			ctx, cancel := context.WithCancel(ctx)
			l.svc.FollowBuild(ctx, q.Stack, b.ID, func(ev core.Event) error {
				cancel() // what is there, without waiting for more (see web's buildLog)
				lines = append(lines, web.LogLine{Time: ev.Time, Instance: b.ID, Text: strings.TrimSpace(string(ev.Type) + " " + ev.Message)})
				return nil
			})
			cancel()
		}
	case "release":
		return nil, core.Errorf(core.CodeUnavailable, "release logs are kept by the log store, which this server does not run yet; see the build log")
	default:
		return nil, core.Errorf(core.CodeInvalid, "invalid log kind %q: use runtime, build, release or access", q.Kind)
	}
	return filterLines(lines, q), nil
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

// runtimeLines parses `[instance | ]<RFC 3339 time> text` lines, sorted by time.
func runtimeLines(s string) []web.LogLine {
	var out []web.LogLine
	for _, ln := range strings.Split(s, "\n") {
		inst := ""
		if i := strings.Index(ln, " | "); i > 0 && !strings.ContainsAny(ln[:i], " ") {
			inst, ln = ln[:i], ln[i+3:]
		}
		ts, text, _ := strings.Cut(ln, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		out = append(out, web.LogLine{Time: t, Instance: inst, Text: text})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// filterLines keeps the lines strictly after q.Since that contain q.Grep,
// the newest q.Limit of them.
func filterLines(lines []web.LogLine, q web.LogQuery) []web.LogLine {
	out := lines[:0]
	for _, l := range lines {
		if l.Time.After(q.Since) && (q.Grep == "" || strings.Contains(l.Text, q.Grep)) {
			out = append(out, l)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out
}
