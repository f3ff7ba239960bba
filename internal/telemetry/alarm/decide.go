package alarm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Point is one datapoint of a metric: the value of the period starting
// at T.
type Point struct {
	T time.Time
	V float64
}

// Decision is an alarm's state after an evaluation, with why.
type Decision struct {
	State  core.AlarmState
	Reason string
}

// Window is the evaluation range [from, to) of a metric alarm at now: its
// last For complete periods, aligned to multiples of Period since the Unix
// epoch (UTC), counting only periods that ended at least settle ago (the
// metrics store records a period a little after it ends).
func Window(a core.Alarm, now time.Time, settle time.Duration) (from, to time.Time) {
	p := a.Period.D()
	// Not time.Truncate, which counts from year 1: periods that do not
	// divide a day (70 s) would not line up with the metrics store's.
	ns := now.Add(-settle).UnixNano()
	slot := ns / int64(p)
	if ns%int64(p) < 0 {
		slot--
	}
	to = time.Unix(0, slot*int64(p)).UTC()
	return to.Add(-time.Duration(a.For) * p), to
}

// Evaluate decides a metric alarm's state from the datapoints of its
// evaluation range [from, to) (points outside are ignored), as the
// package doc describes: ALARM when every datapoint breaches, OK when one
// does not, INSUFFICIENT_DATA without datapoints. prev is the state
// before; a decision equal to it is no change.
func Evaluate(a core.Alarm, prev core.AlarmState, points []Point, from, to time.Time) Decision {
	var in []Point
	for _, p := range points {
		if !p.T.Before(from) && p.T.Before(to) {
			in = append(in, p)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].T.Before(in[j].T) })
	periods := fmt.Sprintf("the last %d period(s) of %s", a.For, periodText(a.Period.D()))
	if len(in) == 0 {
		return Decision{core.AlarmInsufficientData, fmt.Sprintf("no datapoints of %s in %s (up to %s)", a.Metric, periods, stamp(to))}
	}
	var breaching, ok []Point
	for _, p := range in {
		if breaches(a, p.V) {
			breaching = append(breaching, p)
		} else {
			ok = append(ok, p)
		}
	}
	missing := a.For - len(in)
	if len(ok) == 0 {
		reason := fmt.Sprintf("threshold crossed: %s of %s in %s %s %s %s",
			count(len(breaching), "datapoint"), a.Metric, periods, were(len(breaching)), a.Comparison, num(a.Threshold))
		reason += " [" + values(breaching) + "]"
		if missing > 0 {
			reason += fmt.Sprintf("; %s without data, treated as missing", count(missing, "period"))
		}
		return Decision{core.AlarmAlarm, reason}
	}
	return Decision{core.AlarmOK, fmt.Sprintf("threshold not crossed: %s of %s in %s %s not %s %s [%s]",
		count(len(ok), "datapoint"), a.Metric, periods, were(len(ok)), a.Comparison, num(a.Threshold), values(ok))}
}

func breaches(a core.Alarm, v float64) bool {
	if a.Comparison == "below" {
		return v < a.Threshold
	}
	return v > a.Threshold
}

// Outcome is one finished build or release, as a built-in alarm judges
// it: Failed, or succeeded.
type Outcome struct {
	ID     string // b<seq> or r<seq>
	Failed bool
	Detail string // the error of a failure
}

// Judge walks the outcomes a built-in alarm has not judged yet (those
// after seen; oldest first) and returns the decisions each one that
// changes the state makes, with the newest outcome judged. On the first
// judgement (seen == "") only the newest outcome counts: history before
// the alarm existed is not replayed. what names the kind ("build",
// "release to prod").
func Judge(outcomes []Outcome, seen string, prev core.AlarmState, what string) ([]Decision, string) {
	if len(outcomes) == 0 {
		return nil, seen
	}
	var todo []Outcome
	if seen == "" {
		todo = outcomes[len(outcomes)-1:]
	} else {
		for _, o := range outcomes {
			if seqOf(o.ID) > seqOf(seen) {
				todo = append(todo, o)
			}
		}
	}
	var out []Decision
	state := prev
	for _, o := range todo {
		// "release r3 to prod", not "release to prod r3".
		kind, rest, _ := strings.Cut(what, " ")
		name := strings.TrimSpace(kind + " " + o.ID + " " + rest)
		d := Decision{core.AlarmOK, name + " succeeded"}
		if o.Failed {
			d = Decision{core.AlarmAlarm, name + " failed"}
			if o.Detail != "" {
				d.Reason += ": " + firstLine(o.Detail)
			}
		}
		seen = o.ID
		if d.State != state {
			out = append(out, d)
			state = d.State
		}
	}
	return out, seen
}

// BuildOutcomes turns a stack's builds (any order) into the outcomes a
// build-failed alarm judges, oldest first: succeeded, failed and timed
// out builds, up to the first that is still running (a later one's
// outcome waits for it, so none is skipped). Superseded and interrupted
// builds are no outcome.
func BuildOutcomes(builds []core.Build) []Outcome {
	sorted := append([]core.Build(nil), builds...)
	sort.Slice(sorted, func(i, j int) bool { return seqOf(sorted[i].ID) < seqOf(sorted[j].ID) })
	var out []Outcome
	for _, b := range sorted {
		switch b.Status {
		case core.BuildRunning:
			return out
		case core.BuildSucceeded:
			out = append(out, Outcome{ID: b.ID})
		case core.BuildFailed, core.BuildTimedOut:
			detail := b.Error
			if b.Status == core.BuildTimedOut && detail == "" {
				detail = "timed out"
			}
			out = append(out, Outcome{ID: b.ID, Failed: true, Detail: detail})
		}
	}
	return out
}

// ReleaseOutcomes is BuildOutcomes for a stage's releases: active and
// superseded ones succeeded, failed ones failed, pending ones wait.
func ReleaseOutcomes(releases []core.Release) []Outcome {
	sorted := append([]core.Release(nil), releases...)
	sort.Slice(sorted, func(i, j int) bool { return seqOf(sorted[i].ID) < seqOf(sorted[j].ID) })
	var out []Outcome
	for _, r := range sorted {
		switch r.Status {
		case core.ReleasePending:
			return out
		case core.ReleaseActive, core.ReleaseSuperseded:
			out = append(out, Outcome{ID: r.ID})
		case core.ReleaseFailed:
			out = append(out, Outcome{ID: r.ID, Failed: true, Detail: r.Error})
		}
	}
	return out
}

// CrashLoop decides a stage's crash-loop alarm from its status: ALARM
// while CrashLooping, OK once it serves (or is otherwise up),
// INSUFFICIENT_DATA before its first release. While a rollout runs the
// state stays as it was: the new release has not shown anything yet.
func CrashLoop(st core.StageStatus, prev core.AlarmState) Decision {
	switch st.Status {
	case "CrashLooping":
		reason := "the stage is crash looping"
		if c := st.Crash; c != nil {
			reason = fmt.Sprintf("the stage is crash looping: instance %s exited with code %d, %d crashes in a row", c.Instance, c.ExitCode, c.Crashes)
			if c.OOM {
				reason = fmt.Sprintf("the stage is crash looping: instance %s ran out of memory, %d crashes in a row", c.Instance, c.Crashes)
			}
		}
		return Decision{core.AlarmAlarm, reason}
	case "deploying":
		return Decision{prev, ""}
	case "not-deployed":
		return Decision{core.AlarmInsufficientData, "the stage has no release yet"}
	}
	return Decision{core.AlarmOK, "the stage is " + st.Status + ", not crash looping"}
}

// notifies reports whether a change is sent to webhooks: into or out of
// ALARM.
func notifies(from, to core.AlarmState) bool {
	return from != to && (from == core.AlarmAlarm || to == core.AlarmAlarm)
}

// seqOf is the number of an ID like "b12" (0 if none), so IDs compare
// numerically.
func seqOf(id string) int {
	n, _ := strconv.Atoi(strings.TrimLeft(id, "abcdefghijklmnopqrstuvwxyz"))
	return n
}

func values(ps []Point) string {
	const show = 5
	var parts []string
	for i, p := range ps {
		if i == show {
			parts = append(parts, fmt.Sprintf("… %d more", len(ps)-show))
			break
		}
		parts = append(parts, pointNum(p.V)+" at "+stamp(p.T))
	}
	return strings.Join(parts, ", ")
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// pointNum prints a datapoint at the float32 precision the metrics store
// keeps: 408.23, not 408.2300109863281.
func pointNum(v float64) string { return strconv.FormatFloat(float64(float32(v)), 'f', -1, 32) }

func stamp(t time.Time) string { return t.UTC().Format("15:04:05Z") }

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func were(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func periodText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String() // "1h0m0s", "1m30s", "10s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
