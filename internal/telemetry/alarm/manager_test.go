package alarm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
)

// receiver is a webhook endpoint that keeps what it is sent.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []Notification
	path []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var n Notification
		json.NewDecoder(req.Body).Decode(&n)
		r.mu.Lock()
		r.got = append(r.got, n)
		r.path = append(r.path, req.URL.Path)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) notifications() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.got...)
}

// observer is a fake service: stacks, builds and releases as set.
type observer struct {
	stacks   []core.StackStatus
	builds   []core.Build
	releases []core.Release
}

func (o *observer) List(context.Context) ([]core.StackStatus, error)     { return o.stacks, nil }
func (o *observer) Builds(context.Context, string) ([]core.Build, error) { return o.builds, nil }
func (o *observer) Releases(context.Context, string, string) ([]core.Release, error) {
	return o.releases, nil
}

func newManager(t *testing.T, cfg Config) (*Manager, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.CreateStack(ctx, core.Stack{Name: "app", Spec: core.StackSpec{Name: "app", Stages: []core.StageSpec{{Name: "dev"}, {Name: "prod"}}}}); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Backoff, cfg.DashboardURL = st, []time.Duration{time.Millisecond}, "http://127.0.0.1:7070"
	return New(cfg), st
}

func TestMetricAlarmLifecycle(t *testing.T) {
	ctx := context.Background()
	hook := newReceiver(t)
	values := map[time.Time]float64{}
	var mu sync.Mutex
	query := func(stack, stage, metric string, from, to time.Time, step time.Duration) []Point {
		if stack != "app" || stage != "prod" || metric != "p99_latency_ms" || step != 10*time.Second {
			t.Errorf("query %s/%s %s step %s", stack, stage, metric, step)
		}
		mu.Lock()
		defer mu.Unlock()
		var out []Point
		for ts, v := range values {
			if !ts.Before(from) && ts.Before(to) {
				out = append(out, Point{ts, v})
			}
		}
		return out
	}
	m, _ := newManager(t, Config{Query: query})
	a, err := m.Create(ctx, "app", core.AlarmSpec{Stage: "prod", Metric: "p99_latency_ms", Comparison: "above", Threshold: 500, Period: "10s", For: 2,
		Notify: []string{hook.URL + "/alarm?key=s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "a1" || a.Status.State != core.AlarmInsufficientData || a.Notify[0] != hook.URL+"/alarm?redacted" {
		t.Fatalf("created: %+v", a)
	}
	if _, err := m.Create(ctx, "app", core.AlarmSpec{Stage: "prod", Metric: "p99_latency_ms", Comparison: "above", Threshold: 500, Period: "10s", For: 2}); core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("same default name again: %v", err)
	}
	if _, err := m.Create(ctx, "nope", core.AlarmSpec{}); !core.IsNotFound(err) {
		t.Fatalf("unknown stack: %v", err)
	}

	now := t0.Add(20 * time.Second) // window [t0, t0+20s) with Settle 0
	m.Evaluate(ctx, now)            // no data
	values[t0], values[t0.Add(10*time.Second)] = 700, 800
	m.Evaluate(ctx, now) // ALARM
	m.Evaluate(ctx, now) // no change
	values[t0.Add(20*time.Second)] = 100
	m.Evaluate(ctx, now.Add(10*time.Second)) // OK
	m.notify.Wait()

	got := hook.notifications()
	if len(got) != 2 || got[0].State != core.AlarmAlarm || got[0].PreviousState != core.AlarmInsufficientData || got[1].State != core.AlarmOK || got[1].PreviousState != core.AlarmAlarm {
		t.Fatalf("notifications: %+v", got)
	}
	n := got[0]
	if n.AlarmID != "a1" || n.AlarmName != "prod-p99_latency_ms-above-500" || n.Stack != "app" || n.Stage != "prod" || n.Metric != "p99_latency_ms" ||
		*n.Threshold != 500 || n.Period != "10s" || n.For != 2 || n.Dashboard != "http://127.0.0.1:7070/ui/stacks/app/stages/prod/charts" ||
		!strings.Contains(n.Reason, "2 datapoints of p99_latency_ms in the last 2 period(s) of 10s were above 500") {
		t.Fatalf("ALARM notification: %+v", n)
	}
	hist, err := m.History(ctx, "app", "prod-p99_latency_ms-above-500", 0)
	if err != nil {
		t.Fatal(err)
	}
	var states, deliveries []string
	for _, ev := range hist {
		switch ev.Type {
		case core.AlarmStateChange:
			states = append(states, string(ev.From)+">"+string(ev.To))
		case core.AlarmDelivery:
			if !ev.Delivered || ev.Attempts != 1 || strings.Contains(ev.URL, "s3cret") {
				t.Fatalf("delivery: %+v", ev)
			}
			deliveries = append(deliveries, string(ev.To))
		}
	}
	// Newest first; INSUFFICIENT_DATA → INSUFFICIENT_DATA is no change.
	if strings.Join(states, " ") != "ALARM>OK INSUFFICIENT_DATA>ALARM" || len(deliveries) != 2 {
		t.Fatalf("history: states %v, deliveries %v", states, deliveries)
	}
	list, _ := m.List(ctx, "app")
	if len(list) != 1 || list[0].Status.State != core.AlarmOK || !list[0].Status.Since.Equal(now.Add(10*time.Second)) {
		t.Fatalf("list: %+v", list)
	}
	if err := m.Delete(ctx, "app", "a1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "app", "a1"); !core.IsNotFound(err) || !strings.Contains(err.Error(), "slipway alarms list app") {
		t.Fatalf("second delete: %v", err)
	}
}

func TestNoMetricsStore(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, Config{})
	if _, err := m.Create(ctx, "app", core.AlarmSpec{Stage: "dev", Metric: "requests", Comparison: "below", Threshold: 1, Period: "1m", For: 1}); err != nil {
		t.Fatal(err)
	}
	m.Evaluate(ctx, t0)
	list, _ := m.List(ctx, "app")
	if list[0].Status.State != core.AlarmInsufficientData || list[0].Status.Reason != "this server has no metrics store" {
		t.Fatalf("status: %+v", list[0].Status)
	}
}

func TestBuiltinAlarms(t *testing.T) {
	ctx := context.Background()
	def, stackHook := newReceiver(t), newReceiver(t)
	obs := &observer{stacks: []core.StackStatus{{Name: "app", Stages: []core.StageStatus{{Name: "dev", Status: "serving"}}}}}
	m, st := newManager(t, Config{Observer: obs, DefaultWebhooks: []string{def.URL + "/default"}})
	setStages := func(names ...string) {
		stack, _ := st.GetStack(ctx, "app")
		stack.Spec.Stages = nil
		for _, n := range names {
			stack.Spec.Stages = append(stack.Spec.Stages, core.StageSpec{Name: n})
		}
		if err := st.UpdateStack(ctx, stack); err != nil {
			t.Fatal(err)
		}
	}
	setStages("dev")
	// Listed from the start, before any evaluation.
	if list, err := m.List(ctx, "app"); err != nil || len(list) != 3 || list[0].Status.State != core.AlarmInsufficientData || list[0].Status.Reason != "not evaluated yet" {
		t.Fatalf("before the first evaluation: %+v, %v", list, err)
	}
	if _, err := m.SetWebhooks(ctx, "app", []string{stackHook.URL + "/stack"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetWebhooks(ctx, "app", []string{"mailto:ops@example.com"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("bad webhook: %v", err)
	}

	obs.builds = []core.Build{{ID: "b1", Status: core.BuildSucceeded}}
	m.Evaluate(ctx, t0)
	list, err := m.List(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]core.Alarm{}
	for _, a := range list {
		byID[a.ID] = a
	}
	if len(list) != 3 || byID["build-failed"].Status.State != core.AlarmOK || byID["crash-loop-dev"].Status.State != core.AlarmOK ||
		byID["release-failed-dev"].Status.State != core.AlarmInsufficientData || len(byID["build-failed"].Notify) != 2 {
		t.Fatalf("built-in alarms: %+v", list)
	}
	if err := m.Delete(ctx, "app", "build-failed"); core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "built-in") {
		t.Fatalf("delete built-in: %v", err)
	}

	// A failure and a success between two evaluations pass through ALARM.
	obs.builds = []core.Build{{ID: "b3", Status: core.BuildSucceeded}, {ID: "b2", Status: core.BuildFailed, Error: "exit status 7"}, {ID: "b1", Status: core.BuildSucceeded}}
	obs.releases = []core.Release{{ID: "r1", Stage: "dev", Status: core.ReleaseFailed, Error: "never became healthy"}}
	obs.stacks[0].Stages[0] = core.StageStatus{Name: "dev", Status: "CrashLooping", Crash: &core.CrashInfo{Instance: "app-dev-x", ExitCode: 3, Crashes: 3}}
	m.Evaluate(ctx, t0.Add(10*time.Second))
	m.notify.Wait()
	got := def.notifications()
	var seq []string
	for _, n := range got {
		seq = append(seq, n.AlarmID+":"+string(n.State))
		if n.AlarmID == "build-failed" && n.State == core.AlarmAlarm && (n.Reason != "build b2 failed: exit status 7" || n.Dashboard != "http://127.0.0.1:7070/ui/stacks/app/builds") {
			t.Fatalf("build notification: %+v", n)
		}
	}
	want := "build-failed:ALARM build-failed:OK release-failed-dev:ALARM crash-loop-dev:ALARM"
	if len(got) != 4 || !sameSet(seq, strings.Fields(want)) {
		t.Fatalf("default webhook got %v, want %s", seq, want)
	}
	if len(stackHook.notifications()) != 4 {
		t.Fatalf("stack webhook got %d notifications", len(stackHook.notifications()))
	}
	// Nothing new: no change, no notification.
	m.Evaluate(ctx, t0.Add(20*time.Second))
	m.notify.Wait()
	if len(def.notifications()) != 4 {
		t.Fatalf("re-evaluation notified again: %+v", def.notifications())
	}
	hist, _ := m.History(ctx, "app", "build-failed", 0)
	if len(hist) < 4 || hist[len(hist)-1].To != core.AlarmOK {
		t.Fatalf("build-failed history: %+v", hist)
	}
	// A removed stage's built-in alarms go.
	obs.stacks[0].Stages = nil
	setStages()
	m.Evaluate(ctx, t0.Add(30*time.Second))
	if list, _ := m.List(ctx, "app"); len(list) != 1 {
		t.Fatalf("after removing the stage: %+v", list)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	// build-failed must go to ALARM before OK.
	return strings.Index(strings.Join(a, " "), "build-failed:ALARM") < strings.Index(strings.Join(a, " "), "build-failed:OK")
}
