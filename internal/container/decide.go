package container

import (
	"sort"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
)

// StageKey names one stage of one stack.
type StageKey struct{ Stack, Stage string }

// Desired is what the controller should be running, read from the store.
type Desired struct {
	// Stacks that exist, with their stages in order.
	Stacks map[string][]string
	// Serving maps a stage to the release it serves.
	Serving map[StageKey]string
	// RollingOut holds releases being rolled out right now; their
	// instances are neither routed nor removed.
	RollingOut map[StageKey]string
}

// Verdict is what to do with one observed instance.
type Verdict int

const (
	Keep   Verdict = iota // serves its stage's current release (or is rolling out)
	Retire                // a superseded release: drain and stop
	Orphan                // its stack or stage no longer exists: remove
)

// Classify decides the fate of an observed instance.
func Classify(d Desired, c engine.Container) Verdict {
	stack, stage, rel := c.Labels[core.LabelStack], c.Labels[core.LabelStage], c.Labels[core.LabelRelease]
	k := StageKey{stack, stage}
	// A rollout may bring a stage the stored spec does not have yet (it
	// is stored when the release activates), so check it first.
	if rel != "" && d.RollingOut[k] == rel {
		return Keep
	}
	stages, ok := d.Stacks[stack]
	if !ok || !contains(stages, stage) {
		return Orphan
	}
	if d.Serving[k] == rel {
		return Keep
	}
	return Retire
}

// live reports whether an instance is running or about to run again.
func live(c engine.Container) bool {
	return c.Running || c.State == "restarting"
}

// Dead lists instances of a serving release that are not running (stopped
// by hand, or given up on by the restart policy) once their stage has a
// live instance of that release again: they are kept until then, for
// their logs and exit code.
func Dead(d Desired, observed []engine.Container) []engine.Container {
	serving := map[StageKey]bool{}
	for _, c := range observed {
		k := StageKey{c.Labels[core.LabelStack], c.Labels[core.LabelStage]}
		if live(c) && c.Labels[core.LabelRelease] == d.Serving[k] {
			serving[k] = true
		}
	}
	var out []engine.Container
	for _, c := range observed {
		k := StageKey{c.Labels[core.LabelStack], c.Labels[core.LabelStage]}
		if !live(c) && c.State != "created" && serving[k] && Classify(d, c) == Keep && d.RollingOut[k] != c.Labels[core.LabelRelease] {
			out = append(out, c)
		}
	}
	return out
}

// Missing lists the stages whose serving release has no live instance
// (none running or restarting), so the controller must start one.
func Missing(d Desired, observed []engine.Container) []StageKey {
	running := map[StageKey]bool{}
	for _, c := range observed {
		k := StageKey{c.Labels[core.LabelStack], c.Labels[core.LabelStage]}
		if c.Labels[core.LabelRelease] == d.Serving[k] && live(c) {
			running[k] = true
		}
	}
	var out []StageKey
	for k, rel := range d.Serving {
		if rel == "" || running[k] || d.RollingOut[k] != "" {
			continue
		}
		if stages, ok := d.Stacks[k.Stack]; !ok || !contains(stages, k.Stage) {
			continue
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stack != out[j].Stack {
			return out[i].Stack < out[j].Stack
		}
		return out[i].Stage < out[j].Stage
	})
	return out
}

// Routes builds the gateway routes: one per stage of every stack, whose
// backends are the healthy instances of the release the stage serves.
// A stage with none still gets a route, so the gateway answers 502 (no
// healthy instance) rather than 404 (no such stack).
func Routes(domain string, d Desired, healthy []core.Instance) []gateway.Route {
	byStage := map[StageKey][]gateway.Backend{}
	for _, in := range healthy {
		k := StageKey{in.Stack, in.Stage}
		if !in.Healthy || in.Addr == "" || d.Serving[k] != in.Release {
			continue
		}
		byStage[k] = append(byStage[k], gateway.Backend{ID: in.ID, Addr: in.Addr})
	}
	var routes []gateway.Route
	for stack, stages := range d.Stacks {
		for _, stage := range stages {
			b := byStage[StageKey{stack, stage}]
			sort.Slice(b, func(i, j int) bool { return b[i].ID < b[j].ID })
			routes = append(routes, gateway.Route{
				Host: core.Hostname(stack, stage, domain), Stack: stack, Stage: stage, Backends: b,
			})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Host < routes[j].Host })
	return routes
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
