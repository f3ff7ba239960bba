package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

// TestLogStore: an instance's output is stored with its instance and
// stream, and outlives the instance being replaced and the server
// restarting (lines written while the server was down are collected
// once, none twice); build and release logs read with --kind; a tiny
// --log-max-bytes deletes a stream's oldest segments.
func TestLogStore(t *testing.T) {
	s := startServer(t, "--log-max-bytes", "16KiB") // 2 KiB segments
	app := fixtureApp(t, "lg", "stages:\n  - name: dev\n  - name: prod\n    approval: true\n")
	os.WriteFile(filepath.Join(app, "release.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"release step for $STAGE_NAME\"\n"), 0o644)
	s.mustRun(app, "deploy")
	host := "dev.lg.localhost"
	say := func(query string) {
		t.Helper()
		if code, body, _ := s.gw("GET", host, "/log?"+query, ""); code != 200 || body != "logged" {
			t.Fatalf("/log?%s: %d %q", query, code, body)
		}
	}
	first := status(t, s, "lg").Stages[0].Instances[0]
	say("msg=marker-one&stream=stderr")
	// Docker reads stdout and stderr apart and stamps each line as it
	// reads it, so lines on the two streams only keep their order when
	// they are not written within the same moment.
	waitRuntime(t, s, app, "marker-one")
	say("msg=marker-out")
	waitRuntime(t, s, app, "marker-out")
	lines := runtimeLines(t, s, app)
	one := only(t, lines, "marker-one")
	if one.Stream != "stderr" || one.Instance != first.Name || !strings.HasPrefix(first.ID, one.Container) || one.Container == "" || time.Since(one.Time) > time.Minute {
		t.Fatalf("marker-one stored as %+v; instance %s (%s)", one, first.Name, first.ID)
	}
	if out := only(t, lines, "marker-out"); out.Stream != "stdout" {
		t.Fatalf("marker-out stored as %+v", out)
	}
	if r := s.mustRun(app, "logs", "lg", "dev", "--grep", "marker-one"); strings.TrimSpace(r.stdout) != "marker-one" {
		t.Fatalf("logs --grep marker-one printed %q", r.stdout)
	}
	if r := s.mustRun(app, "logs", "lg", "dev", "--tail", "1", "-t"); !strings.Contains(r.stdout, first.Name+" stdout | marker-out") {
		t.Fatalf("logs --tail 1 -t printed %q", r.stdout)
	}

	t.Run("the instance is replaced", func(t *testing.T) {
		s.mustRun(app, "env", "set", "lg", "dev", "VERSION=v2")
		var second core.Instance
		for _, in := range status(t, s, "lg").Stages[0].Instances {
			if in.Release == "r2" {
				second = in
			}
		}
		if second.ID == "" || second.ID == first.ID {
			t.Fatalf("env set did not replace instance %s: %+v", first.ID, second)
		}
		say("msg=marker-two")
		waitRuntime(t, s, app, "marker-two")
		lines := runtimeLines(t, s, app)
		only(t, lines, "marker-one") // from the removed instance
		if two := only(t, lines, "marker-two"); two.Instance != second.Name {
			t.Fatalf("marker-two stored as %+v, want instance %s", two, second.Name)
		}
	})

	t.Run("the server restarts", func(t *testing.T) {
		// The instance keeps running; what it writes while the server is
		// down is collected when the server is back.
		say("msg=marker-down&n=3&after=2s")
		asked := time.Now()
		s.stop()
		time.Sleep(time.Until(asked.Add(3 * time.Second)))
		s.start()
		say("msg=marker-after")
		waitRuntime(t, s, app, "marker-after")
		lines := runtimeLines(t, s, app)
		for _, m := range []string{"marker-one", "marker-out", "marker-two", "marker-down-0", "marker-down-1", "marker-down-2", "marker-after"} {
			only(t, lines, m) // stored once: nothing lost, nothing twice
		}
		if n := countLines(lines, "listening on :8000"); n != 2 {
			t.Errorf("the two instances' first line is stored %d times, want 2", n)
		}
	})

	t.Run("build and release logs", func(t *testing.T) {
		out := s.mustRun(app, "logs", "lg", "--kind", "build").stdout
		for _, want := range []string{" b1 ==> build b1 of stack lg", " b1 ==> build.yml phase build", "release step for dev"} {
			if !strings.Contains(out, want) {
				t.Errorf("build log lacks %q:\n%s", want, out)
			}
		}
		out = s.mustRun(app, "logs", "lg", "dev", "--kind", "release").stdout
		for _, want := range []string{" r1 ==> release.yml for stage dev (from latest)", " r1 release step for dev", " r1 release r1 of build b1 serves stage dev", " r2 ==> release r2 to stage dev"} {
			if !strings.Contains(out, want) {
				t.Errorf("dev's release log lacks %q:\n%s", want, out)
			}
		}
		if out := s.mustRun(app, "logs", "lg", "prod", "--kind", "release").stdout; out != "" {
			t.Errorf("prod, never released, has a release log:\n%s", out)
		}
		s.mustRun(app, "approve", "lg", "prod")
		out = s.mustRun(app, "logs", "lg", "prod", "--kind", "release", "--grep", "step for prod").stdout
		if strings.TrimSpace(out) == "" || !strings.HasSuffix(strings.TrimSpace(out), "release step for prod") || strings.Count(out, "\n") != 1 {
			t.Errorf("prod's release log, grep 'step for prod':\n%s", out)
		}
		var ev map[string]any
		out = s.mustRun(app, "logs", "lg", "prod", "--kind", "release", "--tail", "1", "-o", "json").stdout
		if err := json.Unmarshal([]byte(out), &ev); err != nil || ev["type"] != "done" || ev["release"] != "r3" {
			t.Errorf("prod's last release entry: %v %s", err, out)
		}
		// A build's own log replays from the store after the restart.
		out = s.mustRun(app, "logs", "lg", "--build", "1").stdout
		if !strings.Contains(out, "s] ==> build b1 of stack lg") || !strings.Contains(out, "s] done: release r1") {
			t.Errorf("logs --build 1:\n%s", out)
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"logs", "lg", "--kind", "nope"}, `invalid --kind "nope": use runtime, build, release or access`},
			{[]string{"logs", "lg", "--since", "yesterday"}, `invalid --since "yesterday"`},
			{[]string{"logs", "lg", "--kind", "access"}, "access logs are per stage"},
			{[]string{"logs", "lg", "dev", "--kind", "build"}, "build logs are the stack's, not a stage's"},
			{[]string{"logs", "lg", "qa"}, `stack "lg" has no stage "qa"`},
		} {
			if line := errorLine(t, s.run(app, tc.args...)); !strings.Contains(line, tc.want) {
				t.Errorf("%v: %q, want %q", tc.args, line, tc.want)
			}
		}
	})

	t.Run("a tiny size cap deletes the oldest segments", func(t *testing.T) {
		dir := filepath.Join(s.dataDir, "logs", "lg", "dev", "runtime")
		for i := range 6 {
			say(fmt.Sprintf("msg=flood%d-%s&n=50", i, strings.Repeat("x", 40)))
		}
		waitRuntime(t, s, app, "flood5-"+strings.Repeat("x", 40)+"-49")
		var total int64
		segs, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
		for _, p := range segs {
			st, _ := os.Stat(p)
			total += st.Size()
		}
		if total > 16<<10 || len(segs) < 2 {
			t.Fatalf("%d bytes in %d segments, want several under the 16 KiB cap", total, len(segs))
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(segs[0]))); strings.HasPrefix(filepath.Base(segs[0]), "00000001-") || err != nil {
			t.Fatalf("the oldest segment %s survived the cap", segs[0])
		}
		lines := runtimeLines(t, s, app)
		if countLines(lines, "marker-one") != 0 || countLines(lines, "flood5-"+strings.Repeat("x", 40)+"-49") != 1 {
			t.Fatalf("after the cap: %d lines, marker-one %d times", len(lines), countLines(lines, "marker-one"))
		}
	})
}

// runtimeLines reads dev's stored runtime log as JSON.
func runtimeLines(t *testing.T, s *server, dir string) []logstore.Line {
	t.Helper()
	out := s.mustRun(dir, "logs", "lg", "dev", "-o", "json").stdout
	var lines []logstore.Line
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		if raw == "" {
			continue
		}
		var l logstore.Line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("logs -o json line %q: %v", raw, err)
		}
		lines = append(lines, l)
	}
	return lines
}

func waitRuntime(t *testing.T, s *server, dir, text string) {
	t.Helper()
	eventually(t, 20*time.Second, "the runtime log holding "+text, func() error {
		if countLines(runtimeLines(t, s, dir), text) == 0 {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
}

func countLines(lines []logstore.Line, text string) int {
	n := 0
	for _, l := range lines {
		if l.Text == text {
			n++
		}
	}
	return n
}

// only is the one line with text; it fails unless there is exactly one.
func only(t *testing.T, lines []logstore.Line, text string) logstore.Line {
	t.Helper()
	var found []logstore.Line
	for _, l := range lines {
		if l.Text == text {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%q is stored %d times, want once: %+v", text, len(found), found)
	}
	return found[0]
}

// TestLogStoreServerless: a serverless instance's output is stored, and
// stays after the stage scales to zero and its instance is removed.
func TestLogStoreServerless(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "lgfn", "architecture: serverless\nserverless:\n  memory: 128\n  timeout: 2s\n  idle: 2s\nstages:\n  - name: dev\n")
	s.mustRun(app, "deploy")
	if code, body, _ := s.gw("GET", "dev.lgfn.localhost", "/log?msg=fn-marker&stream=stderr", ""); code != 200 || body != "logged" {
		t.Fatalf("/log: %d %q", code, body)
	}
	read := func() []logstore.Line {
		var lines []logstore.Line
		for _, raw := range strings.Split(strings.TrimSpace(s.mustRun(app, "logs", "lgfn", "dev", "-o", "json").stdout), "\n") {
			var l logstore.Line
			if json.Unmarshal([]byte(raw), &l) == nil {
				lines = append(lines, l)
			}
		}
		return lines
	}
	eventually(t, 20*time.Second, "the serverless instance's line stored", func() error {
		if countLines(read(), "fn-marker") == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	eventually(t, 30*time.Second, "dev scaled to zero", func() error {
		if n := liveInstances(t, s, "lgfn", "dev"); n != 0 {
			return fmt.Errorf("%d instances", n)
		}
		return nil
	})
	l := only(t, read(), "fn-marker")
	if l.Stream != "stderr" || !strings.Contains(l.Instance, "lgfn-dev-") || l.Container == "" {
		t.Fatalf("stored as %+v", l)
	}
}
