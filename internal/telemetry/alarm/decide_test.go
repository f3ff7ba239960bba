package alarm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func rule(cmp string, threshold float64, period time.Duration, n int) core.Alarm {
	return core.Alarm{ID: "a1", Name: "slow", Stack: "app", Stage: "prod", Kind: core.AlarmMetric, Metric: "p99_latency_ms",
		Comparison: cmp, Threshold: threshold, Period: core.Duration(period), For: n}
}

func pts(period time.Duration, vals ...float64) []Point {
	var out []Point
	for i, v := range vals {
		if v < 0 {
			continue // missing
		}
		out = append(out, Point{T: t0.Add(time.Duration(i) * period), V: v})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	const missing = -1
	tests := []struct {
		name   string
		alarm  core.Alarm
		prev   core.AlarmState
		points []Point
		want   core.AlarmState
		reason string // a part of the reason
	}{
		{"no data", rule("above", 500, 10*time.Second, 3), core.AlarmOK, nil, core.AlarmInsufficientData, "no datapoints of p99_latency_ms in the last 3 period(s) of 10s"},
		{"all breach", rule("above", 500, 10*time.Second, 3), core.AlarmOK, pts(10*time.Second, 600, 700, 800), core.AlarmAlarm, "3 datapoints of p99_latency_ms in the last 3 period(s) of 10s were above 500 [600 at 10:00:00Z"},
		{"one does not breach", rule("above", 500, 10*time.Second, 3), core.AlarmAlarm, pts(10*time.Second, 600, 400, 800), core.AlarmOK, "1 datapoint of p99_latency_ms in the last 3 period(s) of 10s was not above 500 [400 at 10:00:10Z]"},
		{"equal is not above", rule("above", 500, time.Minute, 1), core.AlarmAlarm, pts(time.Minute, 500), core.AlarmOK, "was not above 500"},
		{"gap filled by breaching data", rule("above", 500, 10*time.Second, 3), core.AlarmOK, pts(10*time.Second, 600, missing, 800), core.AlarmAlarm, "1 period without data"},
		{"gap with a non-breaching point", rule("above", 500, 10*time.Second, 3), core.AlarmInsufficientData, pts(10*time.Second, missing, 100, missing), core.AlarmOK, "not above"},
		{"below", rule("below", 1, time.Minute, 2), core.AlarmOK, pts(time.Minute, 0, 0), core.AlarmAlarm, "were below 1"},
		{"below not crossed", rule("below", 1, time.Minute, 2), core.AlarmAlarm, pts(time.Minute, 0, 1), core.AlarmOK, "not below 1"},
		{"points outside the range ignored", rule("above", 500, 10*time.Second, 2), core.AlarmOK,
			append(pts(10*time.Second, 900, 900), Point{T: t0.Add(-10 * time.Second), V: 1}, Point{T: t0.Add(20 * time.Second), V: 1}), core.AlarmAlarm, "2 datapoints"},
		{"for 1", rule("above", 500, 10*time.Second, 1), core.AlarmInsufficientData, pts(10*time.Second, 501), core.AlarmAlarm, "1 datapoint of p99_latency_ms in the last 1 period(s) of 10s was above 500"},
		{"values at the store's float32 precision", rule("above", 200, 10*time.Second, 1), core.AlarmOK, pts(10*time.Second, float64(float32(408.23))), core.AlarmAlarm, "[408.23 at 10:00:00Z]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := t0
			to := t0.Add(time.Duration(tt.alarm.For) * tt.alarm.Period.D())
			got := Evaluate(tt.alarm, tt.prev, tt.points, from, to)
			if got.State != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("got %s %q; want %s with %q", got.State, got.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		period   time.Duration
		n        int
		now      time.Time
		settle   time.Duration
		from, to time.Time
	}{
		{10 * time.Second, 3, t0.Add(35 * time.Second), 0, t0, t0.Add(30 * time.Second)},
		{10 * time.Second, 1, t0.Add(35 * time.Second), 10 * time.Second, t0.Add(10 * time.Second), t0.Add(20 * time.Second)},
		{time.Minute, 2, t0.Add(61 * time.Second), 10 * time.Second, t0.Add(-2 * time.Minute), t0},
		{time.Minute, 2, t0.Add(71 * time.Second), 10 * time.Second, t0.Add(-time.Minute), t0.Add(time.Minute)},
		// 70 s periods count from the Unix epoch, as the metrics store's
		// steps do: 2026-01-02T10:00:00Z is 1767348000 s, 25247828 periods
		// and 40 s.
		{70 * time.Second, 1, t0, 0, t0.Add(-110 * time.Second), t0.Add(-40 * time.Second)},
		{24 * time.Hour, 1, t0, 0, t0.Truncate(24 * time.Hour).Add(-24 * time.Hour), t0.Truncate(24 * time.Hour)},
	}
	for _, tt := range tests {
		from, to := Window(rule("above", 1, tt.period, tt.n), tt.now, tt.settle)
		if !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("%s×%d at %s settle %s: got [%s, %s), want [%s, %s)", tt.period, tt.n, tt.now.Format(time.TimeOnly), tt.settle,
				from.Format(time.TimeOnly), to.Format(time.TimeOnly), tt.from.Format(time.TimeOnly), tt.to.Format(time.TimeOnly))
		}
	}
}

func TestJudge(t *testing.T) {
	ok := func(id string) Outcome { return Outcome{ID: id} }
	fail := func(id string) Outcome { return Outcome{ID: id, Failed: true, Detail: "exit status 7\nmore"} }
	states := func(ds []Decision) []core.AlarmState {
		out := []core.AlarmState{}
		for _, d := range ds {
			out = append(out, d.State)
		}
		return out
	}
	tests := []struct {
		name     string
		outcomes []Outcome
		seen     string
		prev     core.AlarmState
		want     []core.AlarmState
		wantSeen string
	}{
		{"nothing yet", nil, "", core.AlarmInsufficientData, []core.AlarmState{}, ""},
		{"first judgement takes the newest only", []Outcome{fail("b1"), ok("b2")}, "", core.AlarmInsufficientData, []core.AlarmState{core.AlarmOK}, "b2"},
		{"first judgement of a failure", []Outcome{ok("b1"), fail("b2")}, "", core.AlarmInsufficientData, []core.AlarmState{core.AlarmAlarm}, "b2"},
		{"a failure", []Outcome{ok("b1"), fail("b2")}, "b1", core.AlarmOK, []core.AlarmState{core.AlarmAlarm}, "b2"},
		{"a failure then a success pass through ALARM", []Outcome{ok("b1"), fail("b2"), ok("b3")}, "b1", core.AlarmOK, []core.AlarmState{core.AlarmAlarm, core.AlarmOK}, "b3"},
		{"another failure is no change", []Outcome{fail("b2"), fail("b3")}, "b2", core.AlarmAlarm, []core.AlarmState{}, "b3"},
		{"nothing new", []Outcome{ok("b1"), fail("b2")}, "b2", core.AlarmAlarm, []core.AlarmState{}, "b2"},
		{"numeric order", []Outcome{ok("b9"), fail("b10")}, "b9", core.AlarmOK, []core.AlarmState{core.AlarmAlarm}, "b10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, seen := Judge(tt.outcomes, tt.seen, tt.prev, "build")
			if !reflect.DeepEqual(states(got), tt.want) || seen != tt.wantSeen {
				t.Fatalf("got %v seen %q; want %v seen %q", states(got), seen, tt.want, tt.wantSeen)
			}
		})
	}
	got, _ := Judge([]Outcome{fail("b4")}, "b3", core.AlarmOK, "build")
	if got[0].Reason != "build b4 failed: exit status 7" {
		t.Fatalf("reason %q", got[0].Reason)
	}
	got, _ = Judge([]Outcome{fail("r4")}, "r3", core.AlarmOK, "release to prod")
	if got[0].Reason != "release r4 to prod failed: exit status 7" {
		t.Fatalf("reason %q", got[0].Reason)
	}
}

func TestOutcomes(t *testing.T) {
	builds := []core.Build{
		{ID: "b5", Status: core.BuildSucceeded}, {ID: "b4", Status: core.BuildRunning}, {ID: "b3", Status: core.BuildTimedOut},
		{ID: "b2", Status: core.BuildSuperseded}, {ID: "b1", Status: core.BuildFailed, Error: "boom"}, {ID: "b10", Status: core.BuildSucceeded},
	}
	// b4 still runs: b5 and b10 wait for it, so its outcome is not skipped.
	want := []Outcome{{ID: "b1", Failed: true, Detail: "boom"}, {ID: "b3", Failed: true, Detail: "timed out"}}
	if got := BuildOutcomes(builds); !reflect.DeepEqual(got, want) {
		t.Fatalf("builds: %+v", got)
	}
	rels := []core.Release{{ID: "r3", Status: core.ReleaseActive}, {ID: "r2", Status: core.ReleaseFailed, Error: "unhealthy"}, {ID: "r1", Status: core.ReleaseSuperseded}}
	want = []Outcome{{ID: "r1"}, {ID: "r2", Failed: true, Detail: "unhealthy"}, {ID: "r3"}}
	if got := ReleaseOutcomes(rels); !reflect.DeepEqual(got, want) {
		t.Fatalf("releases: %+v", got)
	}
	if got := ReleaseOutcomes([]core.Release{{ID: "r2", Status: core.ReleasePending}, {ID: "r1", Status: core.ReleaseActive}}); len(got) != 1 {
		t.Fatalf("pending: %+v", got)
	}
}

func TestCrashLoop(t *testing.T) {
	tests := []struct {
		status string
		crash  *core.CrashInfo
		prev   core.AlarmState
		want   core.AlarmState
		reason string
	}{
		{"CrashLooping", &core.CrashInfo{Instance: "app-dev-1", ExitCode: 3, Crashes: 4}, core.AlarmOK, core.AlarmAlarm, "instance app-dev-1 exited with code 3, 4 crashes in a row"},
		{"CrashLooping", &core.CrashInfo{Instance: "app-dev-1", OOM: true, Crashes: 3}, core.AlarmOK, core.AlarmAlarm, "ran out of memory"},
		{"serving", nil, core.AlarmAlarm, core.AlarmOK, "serving"},
		{"unhealthy", nil, core.AlarmAlarm, core.AlarmOK, "unhealthy"},
		{"deploying", nil, core.AlarmAlarm, core.AlarmAlarm, ""},
		{"not-deployed", nil, core.AlarmOK, core.AlarmInsufficientData, "no release"},
	}
	for _, tt := range tests {
		got := CrashLoop(core.StageStatus{Name: "dev", Status: tt.status, Crash: tt.crash}, tt.prev)
		if got.State != tt.want || !strings.Contains(got.Reason, tt.reason) {
			t.Errorf("%s: got %s %q, want %s with %q", tt.status, got.State, got.Reason, tt.want, tt.reason)
		}
	}
}

func TestNotifies(t *testing.T) {
	a, o, i := core.AlarmAlarm, core.AlarmOK, core.AlarmInsufficientData
	for _, tt := range []struct {
		from, to core.AlarmState
		want     bool
	}{{i, a, true}, {o, a, true}, {a, o, true}, {a, i, true}, {i, o, false}, {o, i, false}, {a, a, false}} {
		if got := notifies(tt.from, tt.to); got != tt.want {
			t.Errorf("%s → %s: got %v", tt.from, tt.to, got)
		}
	}
}
