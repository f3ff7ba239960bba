package server

import (
	"context"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/accesslog"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/web"
)

// TestStoreLogs reads a real log store (files in a temp dir) through the
// dashboard's adapter: each kind shown as a line, since exclusive, grep,
// and the newest Limit lines.
func TestStoreLogs(t *testing.T) {
	st, err := logstore.Open(logstore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rt := logstore.Key{Stack: "a", Stage: "dev", Kind: logstore.Runtime}
	for i, text := range []string{"boot", "listening on :8000", "GET /ping"} {
		tm := t0.Add(time.Duration(i) * time.Second)
		st.Append(rt, tm, logstore.Line{Time: tm, Instance: "a-dev-1", Stream: logstore.Stdout, Text: text})
	}
	st.Append(rt, t0.Add(3*time.Second), logstore.Line{Time: t0.Add(3 * time.Second), Instance: "a-dev-1", Stream: logstore.Stderr, Text: "oops"})
	st.Append(logstore.Key{Stack: "a", Kind: logstore.Build}, t0, core.Event{Time: t0, Type: core.EventStep, Message: "build b1 of stack a", Build: "b1"})
	st.Append(logstore.Key{Stack: "a", Stage: "dev", Kind: logstore.Release}, t0, core.Event{Time: t0, Type: core.EventStep, Message: "release r1 to stage dev", Build: "b1", Release: "r1"})
	st.Append(logstore.Key{Stack: "a", Stage: "dev", Kind: logstore.Access}, t0, accesslog.Entry{Time: t0, Method: "GET", Host: "dev.a.localhost", Path: "/ping", Status: 200, LatencyMS: 1.25, Bytes: 4, Instance: "0123456789abcdef", RequestID: "r1", ClientIP: "127.0.0.1"})

	// As service.ReadLogs reads: one stream, the stack's for builds.
	logs := storeLogs{read: func(ctx context.Context, stack string, q service.LogQuery, fn func(logstore.Entry) error) error {
		k := logstore.Key{Stack: stack, Stage: q.Stage, Kind: q.Kind}
		if q.Kind == logstore.Build && q.Stage != "" {
			t.Errorf("build logs read with stage %q", q.Stage)
		}
		return st.Read(ctx, logstore.Query{Keys: []logstore.Key{k}, Since: q.Since, Grep: q.Grep, Tail: q.Tail}, fn)
	}}
	read := func(q web.LogQuery) []web.LogLine {
		t.Helper()
		q.Stack, q.Stage = "a", "dev"
		lines, err := logs.ReadLogs(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		return lines
	}
	if got := read(web.LogQuery{Kind: "runtime", Since: t0.Add(-time.Hour)}); len(got) != 4 || got[0].Text != "boot" || got[0].Instance != "a-dev-1" || got[3].Text != "stderr: oops" {
		t.Fatalf("runtime: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "runtime", Since: t0.Add(time.Second)}); len(got) != 2 || got[0].Text != "GET /ping" {
		t.Fatalf("since is exclusive: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "runtime", Since: t0.Add(-time.Hour), Grep: "listen"}); len(got) != 1 {
		t.Fatalf("grep: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "runtime", Since: t0.Add(-time.Hour), Limit: 2}); len(got) != 2 || got[1].Text != "stderr: oops" {
		t.Fatalf("limit keeps the newest: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "build", Since: t0.Add(-time.Hour)}); len(got) != 1 || got[0].Text != "step build b1 of stack a" || got[0].Instance != "b1" {
		t.Fatalf("build: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "release", Since: t0.Add(-time.Hour)}); len(got) != 1 || got[0].Text != "step release r1 to stage dev" || got[0].Instance != "r1" {
		t.Fatalf("release: %+v", got)
	}
	if got := read(web.LogQuery{Kind: "access", Since: t0.Add(-time.Hour)}); len(got) != 1 || got[0].Instance != "0123456789ab" ||
		got[0].Text != "GET dev.a.localhost/ping 200 1.2ms 4B client=127.0.0.1 id=r1" {
		t.Fatalf("access: %+v", got)
	}
	if _, err := logs.ReadLogs(context.Background(), web.LogQuery{Stack: "a", Stage: "dev", Kind: "bogus"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("a bad kind: %v", err)
	}
}
