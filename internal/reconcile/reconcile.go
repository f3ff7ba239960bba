package reconcile

import (
	"fmt"
	"sort"
	"time"
)

// Key names one stage of one stack.
type Key struct{ Stack, Stage string }

func (k Key) String() string { return k.Stack + "/" + k.Stage }

// Stage is what one stage should run.
type Stage struct {
	Key
	Serving string // release that serves the stage ("" if never deployed)
	Target  string // release being rolled out ("" if none)
	Count   int    // desired instances (the autoscaler's figure, within min..max)
}

// Instance is an observed instance with what the controller knows of it.
type Instance struct {
	ID      string
	Key     Key
	Release string
	Created time.Time

	Running bool // the process runs
	Exited  bool // it stopped by itself (crashed or exited) and was not restarted
	Healthy bool // passed `healthy` consecutive probes and has not since failed `unhealthy`
	Failed  bool // failed its health checks (or never passed before its start timeout)

	Crashes   int       // consecutive exits without turning healthy in between
	RestartAt time.Time // for an exited instance: not before this (crash backoff)
}

// MaxCrashes is how many exits of a new release's instance abort its
// rollout (fail fast, rather than ECS's ten failed tasks).
const MaxCrashes = 3

// Plan is what to do now.
type Plan struct {
	Start   []Start
	Restart []string // IDs of exited instances whose backoff has passed
	Stop    []Stop
	Routes  map[Key][]string // instance IDs that may receive traffic, per stage
	Ready   []Ready          // rollouts whose target has Count healthy instances: swap
	Abort   []Abort          // rollouts that must stop; the serving release stays
}

// Ready is a rollout that can swap: Release has all its instances healthy.
type Ready struct {
	Key     Key
	Release string
}

// Start asks for n new instances of a release.
type Start struct {
	Key     Key
	Release string
	N       int
}

// Stop retires an instance. Drain means it was routable: wait for
// requests in flight before SIGTERM.
type Stop struct {
	ID     string
	Drain  bool
	Reason string
}

// Abort gives up the rollout of Release.
type Abort struct {
	Key     Key
	Release string
	Reason  string
}

// Compute decides. Stages not listed are gone: their instances are
// stopped without drain (the gateway no longer routes them).
func Compute(stages []Stage, instances []Instance, now time.Time) Plan {
	p := Plan{Routes: map[Key][]string{}}
	want := map[Key]Stage{}
	for _, s := range stages {
		want[s.Key] = s
	}
	byStage := map[Key][]Instance{}
	for _, in := range instances {
		if _, ok := want[in.Key]; !ok {
			p.Stop = append(p.Stop, Stop{ID: in.ID, Reason: "its stack or stage was deleted"})
			continue
		}
		byStage[in.Key] = append(byStage[in.Key], in)
	}
	keys := make([]Key, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		computeStage(&p, want[k], byStage[k], now)
	}
	return p
}

func computeStage(p *Plan, s Stage, insts []Instance, now time.Time) {
	sort.Slice(insts, func(i, j int) bool { return insts[i].Created.Before(insts[j].Created) })
	var serving, target []Instance
	for _, in := range insts {
		switch in.Release {
		case s.Serving:
			serving = append(serving, in)
		case s.Target:
			target = append(target, in)
		default:
			p.Stop = append(p.Stop, Stop{ID: in.ID, Drain: in.Healthy, Reason: fmt.Sprintf("release %s no longer serves the stage", in.Release)})
		}
	}
	routes := []string{}
	for _, in := range serving {
		if in.Healthy && in.Running {
			routes = append(routes, in.ID)
		}
	}
	p.Routes[s.Key] = routes

	if s.Target != "" && s.Target != s.Serving {
		if reason := failing(target); reason != "" {
			p.Abort = append(p.Abort, Abort{Key: s.Key, Release: s.Target, Reason: reason})
			for _, in := range target {
				p.Stop = append(p.Stop, Stop{ID: in.ID, Reason: "rollout aborted"})
			}
		} else {
			healthy := 0
			for _, in := range target {
				if in.Healthy && in.Running {
					healthy++
				}
			}
			if healthy >= max(s.Count, 1) {
				p.Ready = append(p.Ready, Ready{Key: s.Key, Release: s.Target})
			}
			keepCount(p, s.Key, s.Target, target, max(s.Count, 1), now, false)
		}
	}
	if s.Serving != "" {
		keepCount(p, s.Key, s.Serving, serving, s.Count, now, true)
	}
}

// failing says why a rollout's instances show it cannot succeed.
func failing(target []Instance) string {
	for _, in := range target {
		if in.Failed {
			return "a new instance failed its health checks"
		}
		if in.Crashes >= MaxCrashes {
			return fmt.Sprintf("a new instance exited %d times", in.Crashes)
		}
	}
	return ""
}

// keepCount keeps n live instances of a release: failed ones are
// replaced, exited ones restarted after their backoff, extras stopped
// (unhealthy and newest first).
func keepCount(p *Plan, k Key, release string, insts []Instance, n int, now time.Time, drainExtras bool) {
	var live []Instance
	for _, in := range insts {
		switch {
		case in.Failed:
			p.Stop = append(p.Stop, Stop{ID: in.ID, Reason: "failed its health checks"})
		case in.Exited:
			live = append(live, in)
			if !now.Before(in.RestartAt) {
				p.Restart = append(p.Restart, in.ID)
			}
		default:
			live = append(live, in)
		}
	}
	if len(live) < n {
		p.Start = append(p.Start, Start{Key: k, Release: release, N: n - len(live)})
		return
	}
	// Too many: stop the least useful first: exited, then not yet
	// healthy, then the newest.
	sort.SliceStable(live, func(i, j int) bool {
		if ri, rj := rank(live[i]), rank(live[j]); ri != rj {
			return ri < rj
		}
		return live[i].Created.After(live[j].Created)
	})
	for _, in := range live[:len(live)-n] {
		p.Stop = append(p.Stop, Stop{ID: in.ID, Drain: drainExtras && in.Healthy, Reason: "scaled in"})
		p.Restart = remove(p.Restart, in.ID)
	}
}

func rank(in Instance) int {
	switch {
	case in.Exited:
		return 0
	case !in.Healthy:
		return 1
	}
	return 2
}

func remove(ids []string, id string) []string {
	var out []string
	for _, v := range ids {
		if v != id {
			out = append(out, v)
		}
	}
	return out
}
