package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// hookReceiver is a webhook endpoint in the test process: it keeps every
// POST's path and JSON body.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hookPost
}

type hookPost struct {
	Path string
	Body map[string]any
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, hookPost{r.URL.Path, body})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// wait returns the first POST to path whose body has the given fields,
// failing the test after timeout.
func (h *hookReceiver) wait(t *testing.T, timeout time.Duration, path string, fields map[string]string) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, timeout, fmt.Sprintf("webhook POST to %s with %v", path, fields), func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
	next:
		for _, p := range h.got {
			if p.Path != path {
				continue
			}
			for k, v := range fields {
				if fmt.Sprint(p.Body[k]) != v {
					continue next
				}
			}
			found = p.Body
			return nil
		}
		return fmt.Errorf("%d POSTs so far: %+v", len(h.got), h.got)
	})
	return found
}

// TestAlarmsWebhooks: a p99 latency alarm fires on a deliberately slow
// endpoint and POSTs ALARM to its webhook, then OK once requests are
// fast; `slipway top` shows the stage's figures under load; the built-in
// build-failed and crash-loop alarms fire on a failing build and a crash
// loop and notify the server's default webhook; bad input gets one-line
// errors; URLs' secrets never reach the server log.
func TestAlarmsWebhooks(t *testing.T) {
	hook := newHookReceiver(t)
	s := startServer(t, "--alarm-webhook", hook.URL+"/builtin?token=s3cret-default")
	app := fixtureApp(t, "alarmed", "stages:\n  - name: dev\n    scale: {min: 1, max: 1}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "alarmed", 1, 60*time.Second)

	for args, want := range map[string]string{
		"alarms create alarmed dev --metric p99 --above 1":                           `unknown metric "p99": use one of requests,`,
		"alarms create alarmed prod --metric p99_latency_ms --above 1":               `stack "alarmed" has no stage "prod": use one of dev`,
		"alarms create alarmed dev --metric p99_latency_ms --above 1 --period 15s":   `invalid period "15s": use 10s to 1d in multiples of 10s`,
		"alarms create alarmed dev --metric p99_latency_ms --above 1 --for 0":        `invalid evaluation periods (--for) 0: use 1 to 100`,
		"alarms create alarmed dev --metric p99_latency_ms":                          `needs a threshold: --above N or --below N`,
		"alarms create alarmed dev --metric p99_latency_ms --above 1 --notify ftp:x": `invalid webhook URL "ftp:x": use an http:// or https:// URL`,
		"alarms delete alarmed build-failed":                                         `build-failed is a built-in alarm and cannot be deleted`,
		"alarms history alarmed nope":                                                `stack "alarmed" has no alarm "nope"`,
	} {
		r := s.run(app, strings.Fields(args)...)
		if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("slipway %s: exit %d, stderr %q; want one line with %q", args, r.code, r.stderr, want)
		}
	}

	s.mustRun(app, "alarms", "create", "alarmed", "dev", "--metric", "p99_latency_ms", "--above", "200", "--for", "1", "--period", "10s",
		"--name", "slow-dev", "--notify", hook.URL+"/metric?sig=s3cret-metric")

	// Slow requests: every one takes 400 ms, so each 10 s period's p99
	// is above 200 ms.
	slow := startLoad(s, "dev.alarmed.localhost", "/sleep?ms=400", 2, 0)
	alarm := hook.wait(t, 90*time.Second, "/metric", map[string]string{"state": "ALARM", "alarm_name": "slow-dev"})
	// While the load runs, top shows the stage busy.
	var snap core.Top
	eventually(t, 30*time.Second, "top shows the load", func() error {
		r := s.mustRun(app, "top", "alarmed", "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &snap); err != nil {
			return err
		}
		if len(snap.Stages) != 1 || snap.Stages[0].RequestsPerS <= 0 || snap.Stages[0].P99MS == nil || *snap.Stages[0].P99MS < 300 ||
			snap.Stages[0].Instances == nil || *snap.Stages[0].Instances != 1 || snap.Stages[0].CPUPercent == nil {
			return fmt.Errorf("top: %s", r.stdout)
		}
		return nil
	})
	if out := s.mustRun(app, "top", "--once").stdout; !strings.Contains(out, "REQ/S") || !strings.Contains(out, "alarmed") {
		t.Errorf("top --once:\n%s", out)
	}
	liveTop(t, s)
	if _, failures := slow.end(); len(failures) > 0 {
		t.Fatalf("slow requests failed: %v", failures)
	}
	for k, want := range map[string]string{"stack": "alarmed", "stage": "dev", "metric": "p99_latency_ms", "comparison": "above",
		"threshold": "200", "previous_state": "INSUFFICIENT_DATA", "kind": "metric", "period": "10s", "evaluation_periods": "1",
		"dashboard_url": s.api + "/ui/stacks/alarmed/stages/dev/charts"} {
		if got := fmt.Sprint(alarm[k]); got != want {
			t.Errorf("ALARM POST %s = %q, want %q (body %v)", k, got, want, alarm)
		}
	}
	if reason := fmt.Sprint(alarm["reason"]); !strings.Contains(reason, "was above 200") {
		t.Errorf("ALARM reason %q", reason)
	}
	// Fast requests bring it back to OK.
	fast := startLoad(s, "dev.alarmed.localhost", "/ping", 1, 20*time.Millisecond)
	hook.wait(t, 90*time.Second, "/metric", map[string]string{"state": "OK", "previous_state": "ALARM", "alarm_name": "slow-dev"})
	fast.end()

	var list []core.Alarm
	if err := json.Unmarshal([]byte(s.mustRun(app, "alarms", "list", "alarmed", "-o", "json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, a := range list {
		kinds[a.Name] = string(a.Kind)
		for _, u := range a.Notify {
			if strings.Contains(u, "s3cret") {
				t.Errorf("alarms list shows a webhook secret: %s", u)
			}
		}
	}
	for name, kind := range map[string]string{"slow-dev": "metric", "build-failed": "build-failed", "release-failed-dev": "release-failed", "crash-loop-dev": "crash-loop"} {
		if kinds[name] != kind {
			t.Errorf("alarms list: %s is %q, want %q (%v)", name, kinds[name], kind, kinds)
		}
	}
	var hist []core.AlarmEvent
	if err := json.Unmarshal([]byte(s.mustRun(app, "alarms", "history", "alarmed", "slow-dev", "-o", "json").stdout), &hist); err != nil {
		t.Fatal(err)
	}
	var changes, delivered int
	for _, ev := range hist {
		switch {
		case ev.Type == core.AlarmStateChange:
			changes++
		case ev.Type == core.AlarmDelivery && ev.Delivered && ev.HTTP == 204:
			delivered++
			if strings.Contains(ev.URL, "s3cret") || !strings.HasSuffix(ev.URL, "/metric?redacted") {
				t.Errorf("history URL %q", ev.URL)
			}
		}
	}
	if changes < 2 || delivered < 2 {
		t.Errorf("history has %d state changes and %d deliveries: %+v", changes, delivered, hist)
	}
	if out := s.mustRun(app, "alarms", "history", "alarmed", "slow-dev").stdout; !strings.Contains(out, "INSUFFICIENT_DATA → ALARM") || !strings.Contains(out, "delivered (HTTP 204)") {
		t.Errorf("alarms history:\n%s", out)
	}

	// A failing build fires the built-in build-failed alarm.
	os.WriteFile(filepath.Join(app, "build.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo about to fail\n      - exit 7\n"), 0o644)
	if r := s.run(app, "deploy", "-q"); r.code == 0 {
		t.Fatalf("failing build deployed: %s", r.stderr)
	}
	built := hook.wait(t, 60*time.Second, "/builtin", map[string]string{"alarm_id": "build-failed", "state": "ALARM"})
	if reason := fmt.Sprint(built["reason"]); !strings.Contains(reason, "build b2 failed") || !strings.Contains(reason, "exit status 7") ||
		built["dashboard_url"] != s.api+"/ui/stacks/alarmed/builds" || built["stack"] != "alarmed" {
		t.Errorf("build-failed POST: %v", built)
	}
	if out := s.mustRun(app, "alarms", "list").stdout; !strings.Contains(out, "build-failed") || !strings.Contains(out, "ALARM ") {
		t.Errorf("alarms list after the failed build:\n%s", out)
	}
	// A crash loop fires the built-in crash-loop alarm of the stage.
	s.tryGW("GET", "dev.alarmed.localhost", "/crash?loop=1")
	looping := hook.wait(t, 90*time.Second, "/builtin", map[string]string{"alarm_id": "crash-loop-dev", "state": "ALARM"})
	if reason := fmt.Sprint(looping["reason"]); !strings.Contains(reason, "crash looping") || !strings.Contains(reason, "exited with code 3") || looping["stage"] != "dev" {
		t.Errorf("crash-loop POST: %v", looping)
	}
	if strings.Contains(s.logs.String(), "s3cret") {
		t.Errorf("the server log shows a webhook secret")
	}
}

// liveTop runs `slipway top` until it has redrawn its table twice, then
// interrupts it as Ctrl-C would: it exits 0.
func liveTop(t *testing.T, s *server) {
	t.Helper()
	cmd := exec.Command(binary, "top", "alarmed")
	cmd.Env = append(cleanEnv(), "SLIPWAY_DATA_DIR="+s.dataDir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = writerFunc(out.WriteString), writerFunc(out.WriteString)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	eventually(t, 30*time.Second, "top redraws", func() error {
		if n := strings.Count(out.String(), "\033[H\033[2J"); n < 2 {
			return fmt.Errorf("%d redraws: %q", n, out.String())
		}
		return nil
	})
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("top after Ctrl-C: %v\n%s", err, out.String())
	}
	last := out.String()[strings.LastIndex(out.String(), "\033[2J"):]
	if !strings.Contains(last, "REQ/S") || !strings.Contains(last, "alarmed") {
		t.Fatalf("top's last screen:\n%s", last)
	}
}

type writerFunc func(string)

func (f writerFunc) Write(p []byte) (int, error) {
	f(string(p))
	return len(p), nil
}
