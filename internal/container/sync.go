package container

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"

	"github.com/slipwayhq/slipway/internal/reconcile"
)

// crashLooping is how many consecutive crashes make a stage CrashLooping.
const crashLooping = 3

// desired is the stages as the store describes them.
type desired struct {
	keys    []reconcile.Key // every stage of every stack, in spec order
	scale   map[reconcile.Key]core.ScaleSpec
	serving map[reconcile.Key]string
}

func (c *Controller) readDesired(ctx context.Context) (desired, error) {
	d := desired{scale: map[reconcile.Key]core.ScaleSpec{}, serving: map[reconcile.Key]string{}}
	stacks, err := c.cfg.Store.ListStacks(ctx)
	if err != nil {
		return d, fmt.Errorf("read stacks: %w", err)
	}
	serverless := map[string]bool{}
	for _, s := range stacks {
		if s.Spec.Architecture == core.ArchServerless {
			serverless[s.Name] = true // the serverless controller's
			continue
		}
		for _, st := range s.Spec.Stages {
			k := reconcile.Key{Stack: s.Name, Stage: st.Name}
			d.keys = append(d.keys, k)
			d.scale[k] = st.EffectiveScale()
		}
	}
	srs, err := c.cfg.Store.StageReleases(ctx)
	if err != nil {
		return d, fmt.Errorf("read stage releases: %w", err)
	}
	for _, sr := range srs {
		if !serverless[sr.Stack] {
			d.serving[reconcile.Key{Stack: sr.Stack, Stage: sr.Stage}] = sr.Release
		}
	}
	return d, nil
}

// pass observes, decides and acts once. busy reports whether something
// is changing (a rollout, an instance not yet healthy), so Run comes
// back sooner.
func (c *Controller) pass(ctx context.Context) (busy bool, err error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	now := time.Now()
	d, err := c.readDesired(ctx)
	if err != nil {
		return false, err
	}
	observed, err := c.cfg.Engine.ListContainers(ctx, c.Labels())
	if err != nil {
		return false, fmt.Errorf("list instances: %w", err)
	}
	for _, ct := range observed {
		c.release(ctx, ct.Labels[core.LabelStack], ct.Labels[core.LabelRelease]) // cache port and health spec
	}
	for _, t := range c.observe(ctx, observed, now) {
		c.recordCrash(t, d.serving[t.key])
	}
	// A rollout's stage may be new to the stored spec; it still gets
	// probed and scaled by the rollout's own spec.
	specs := map[reconcile.Key]core.ScaleSpec{}
	for k, s := range d.scale {
		specs[k] = s
	}
	c.mu.Lock()
	for k, st := range c.stages {
		if st.rollout != nil {
			if _, ok := specs[k]; !ok {
				stage, _ := st.rollout.rel.Spec.Stage(k.Stage)
				specs[k] = stage.EffectiveScale()
			}
		}
	}
	c.mu.Unlock()
	c.probeDue(ctx, specs, now)
	c.mu.Lock()
	c.adopting = false // instances seen from now on are new
	c.mu.Unlock()

	c.retryRemovals()
	stages, inputs := c.inputs(d, specs)
	plan := reconcile.Compute(stages, inputs, now)
	if c.applyRollouts(ctx, plan, &d) {
		stages, inputs = c.inputs(d, specs)
		plan = reconcile.Compute(stages, inputs, now)
	}
	// Routes first: instances about to stop leave the table before their
	// drain begins, so nothing is sent to one after its SIGTERM.
	addrs := c.addrs()
	for _, st := range plan.Stop {
		delete(addrs, st.ID)
	}
	c.publish(Routes(c.cfg.Domain, d.keys, plan.Routes, addrs))
	c.apply(ctx, plan, d)

	c.mu.Lock()
	defer c.mu.Unlock()
	busy = len(plan.Start)+len(plan.Restart)+len(plan.Stop) > 0
	for _, st := range c.stages {
		busy = busy || st.rollout != nil
	}
	for _, t := range c.insts {
		busy = busy || (t.running && !t.inst.Healthy && !t.stopping)
	}
	return busy, nil
}

// inputs turns the desired state and tracked instances into Compute's
// input, creating stage state (and the initial count) as stages appear.
func (c *Controller) inputs(d desired, specs map[reconcile.Key]core.ScaleSpec) ([]reconcile.Stage, []reconcile.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := map[reconcile.Key]int{}
	for _, t := range c.insts {
		if t.inst.Release == d.serving[t.key] && (t.running || t.exited) && !t.stopping {
			live[t.key]++
		}
	}
	var stages []reconcile.Stage
	seen := map[reconcile.Key]bool{}
	add := func(k reconcile.Key) {
		if seen[k] {
			return
		}
		seen[k] = true
		st := c.stageState(k)
		spec := specs[k]
		lo := max(spec.Min, 1)
		if st.count < 0 {
			// First sight (or a server restart): keep what runs, within
			// min..max, so an autoscaled stage keeps its size.
			st.count = max(lo, live[k])
		}
		// Bounds may have changed (`slipway scale`, a deploy): obey them now.
		st.count = min(max(st.count, lo), spec.Max)
		s := reconcile.Stage{Key: k, Serving: d.serving[k], Count: st.count}
		if st.rollout != nil {
			s.Target = st.rollout.rel.ID
			s.Count = min(s.Count, releaseScale(st.rollout.rel, spec).Max)
		}
		stages = append(stages, s)
	}
	for _, k := range d.keys {
		add(k)
	}
	for k, st := range c.stages {
		if st.rollout != nil {
			add(k)
		}
	}
	for k := range c.stages {
		if !seen[k] {
			delete(c.stages, k) // a deleted stack or stage: start afresh if it returns
		}
	}
	var inputs []reconcile.Instance
	for _, t := range c.insts {
		if !t.stopping {
			inputs = append(inputs, t.input())
		}
	}
	return stages, inputs
}

func (c *Controller) stageState(k reconcile.Key) *stageState {
	st := c.stages[k]
	if st == nil {
		// No scale-in right after a (re)start: the window holds no samples.
		st = &stageState{count: -1, lastIn: time.Now()}
		c.stages[k] = st
	}
	return st
}

// applyRollouts swaps the rollouts that are ready and gives up the ones
// that must abort. It reports whether a stage now serves a new release.
// Each acts only on the rollout the plan was computed for: one that was
// aborted or replaced meanwhile is left alone.
func (c *Controller) applyRollouts(ctx context.Context, plan reconcile.Plan, d *desired) bool {
	for _, a := range plan.Abort {
		c.mu.Lock()
		st := c.stageState(a.Key)
		r := st.rollout
		if r == nil || r.rel.ID != a.Release || r.activating {
			c.mu.Unlock()
			continue
		}
		st.rollout = nil
		why, logsOf := c.abortReason(a, r)
		c.mu.Unlock()
		var details []string
		if logsOf != "" {
			details = c.tail(logsOf)
		} else {
			details = why.logs
		}
		err := why.err.WithDetails(details)
		c.event(a.Key, "rollout", fmt.Sprintf("rollout of %s aborted: %s; %s keeps serving", r.rel.ID, err.Error(), orNone(d.serving[a.Key])))
		r.finish(err)
	}
	swapped := false
	for _, ready := range plan.Ready {
		c.mu.Lock()
		st := c.stageState(ready.Key)
		r := st.rollout
		if r == nil || r.rel.ID != ready.Release {
			c.mu.Unlock()
			continue
		}
		r.activating = true // from here on, Abort refuses
		c.mu.Unlock()
		err := r.activate(ctx)
		c.mu.Lock()
		if st.rollout == r {
			st.rollout = nil
		}
		if err == nil {
			st.crash = nil
		}
		c.mu.Unlock()
		if err != nil {
			r.finish(fmt.Errorf("activate release %s: %w", r.rel.ID, err))
			continue
		}
		prev := d.serving[ready.Key]
		d.serving[ready.Key] = r.rel.ID
		if !containsKey(d.keys, ready.Key) {
			d.keys = append(d.keys, ready.Key)
		}
		c.event(ready.Key, "rollout", fmt.Sprintf("release %s serves the stage (was %s); draining the old instances", r.rel.ID, orNone(prev)))
		r.progress(fmt.Sprintf("routes swapped: release %s serves %s", r.rel.ID, ready.Key.Stage))
		r.finish(nil)
		swapped = true
	}
	return swapped
}

// apply carries out the plan's instance changes.
func (c *Controller) apply(ctx context.Context, plan reconcile.Plan, d desired) {
	for _, s := range plan.Stop {
		c.mu.Lock()
		t := c.insts[s.ID]
		known := t != nil && !t.stopping
		var name string
		var key reconcile.Key
		if known {
			name, key = t.inst.Name, t.key
		}
		c.mu.Unlock()
		c.retire(s.ID, s.Drain, s.Reason)
		if known && s.Reason != "" && !strings.HasPrefix(s.Reason, "release ") && !strings.HasPrefix(s.Reason, "its stack") {
			c.event(key, "instance", fmt.Sprintf("stopping %s: %s", name, s.Reason))
		}
	}
	for _, id := range plan.Restart {
		c.mu.Lock()
		t := c.insts[id]
		c.mu.Unlock()
		if t == nil {
			continue
		}
		if err := c.cfg.Engine.StartContainer(ctx, id); err != nil {
			c.log.Warn("restart crashed instance; replacing it", "instance", t.inst.Name, "err", err)
			c.mu.Lock()
			t.failed = true // the next plan stops it and starts a new one
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		t.exited, t.running, t.started, t.passes, t.fails = false, true, time.Now(), 0, 0
		crashes := t.crashes
		c.mu.Unlock()
		c.event(t.key, "instance", fmt.Sprintf("restarted %s after crash %d (backoff %s)", t.inst.Name, crashes, backoff(crashes)))
	}
	for _, s := range plan.Start {
		rel, err := c.releaseFor(ctx, s.Key, s.Release)
		if err != nil {
			c.log.Warn("start instances: unknown release", "stack", s.Key.Stack, "stage", s.Key.Stage, "release", s.Release, "err", err)
			continue
		}
		for i := 0; i < s.N; i++ {
			id, err := c.startInstance(ctx, rel)
			if err != nil {
				c.startFailed(s.Key, rel, err)
				break
			}
			c.mu.Lock()
			c.insts[id] = &tracked{created: time.Now(), started: time.Now(), running: true, key: s.Key,
				inst: core.Instance{ID: id, Stack: s.Key.Stack, Stage: s.Key.Stage, Release: rel.ID, State: "running"}}
			r := c.stageState(s.Key).rollout
			c.mu.Unlock()
			if r != nil && r.rel.ID == rel.ID {
				r.progress(fmt.Sprintf("started instance %d of %d (%s); waiting for GET %s on port %d to pass %d time(s)",
					i+1, s.N, short(id), healthPathOf(rel, d.scale[s.Key]), rel.Spec.Port, max(d.scale[s.Key].Health.Healthy, 1)))
			}
		}
	}
	c.reportProgress()
}

// releaseFor finds a release: a rollout's is in memory before the store
// says it serves anything.
func (c *Controller) releaseFor(ctx context.Context, k reconcile.Key, id string) (core.Release, error) {
	c.mu.Lock()
	if st := c.stages[k]; st != nil && st.rollout != nil && st.rollout.rel.ID == id {
		rel := st.rollout.rel
		c.mu.Unlock()
		return rel, nil
	}
	c.mu.Unlock()
	return c.release(ctx, k.Stack, id)
}

// startFailed handles an instance that could not even be started: a
// rollout fails at once; a serving stage logs it and retries next pass.
func (c *Controller) startFailed(k reconcile.Key, rel core.Release, err error) {
	c.mu.Lock()
	st := c.stageState(k)
	r := st.rollout
	if r != nil && r.rel.ID == rel.ID {
		st.rollout = nil
	} else {
		r = nil
	}
	c.mu.Unlock()
	if r != nil {
		c.event(k, "rollout", fmt.Sprintf("rollout of %s aborted: %v", rel.ID, err))
		r.finish(core.Wrap(core.CodeDeployFailed, err, "start instance of %s/%s: %v", k.Stack, k.Stage, err))
		return
	}
	c.log.Warn("start instance", "stack", k.Stack, "stage", k.Stage, "err", err)
}

// reportProgress tells rollouts how many new instances are healthy.
func (c *Controller) reportProgress() {
	type report struct {
		r    *rollout
		n, d int
	}
	var reports []report
	c.mu.Lock()
	for k, st := range c.stages {
		r := st.rollout
		if r == nil {
			continue
		}
		n := 0
		for _, t := range c.insts {
			if t.key == k && t.inst.Release == r.rel.ID && t.inst.Healthy && t.running {
				n++
			}
		}
		if n > r.reported {
			r.reported = n
			reports = append(reports, report{r, n, max(st.count, 1)})
		}
	}
	c.mu.Unlock()
	for _, rp := range reports {
		rp.r.progress(fmt.Sprintf("%d of %d new instance(s) healthy", rp.n, rp.d))
	}
}

// addrs maps routable instance IDs to their addresses.
func (c *Controller) addrs() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for id, t := range c.insts {
		if !t.stopping && t.running {
			out[id] = t.inst.Addr
		}
	}
	return out
}

// recordCrash keeps a crashed instance's last words and, for the
// serving release, the stage's crash report.
func (c *Controller) recordCrash(t *tracked, serving string) {
	logs := c.tail(t.inst.ID)
	c.mu.Lock()
	t.logs = logs
	info := &core.CrashInfo{Instance: t.inst.Name, Time: time.Now().UTC(), ExitCode: t.exitCode, OOM: t.oom, Crashes: t.crashes, Logs: logs}
	if t.inst.Release == serving {
		c.stageState(t.key).crash = info
	}
	c.mu.Unlock()
	why := fmt.Sprintf("exited with code %d", t.exitCode)
	if t.oom {
		why = "was killed for running out of memory (OOM)"
	}
	c.event(t.key, "instance", fmt.Sprintf("instance %s %s (crash %d; restarting in %s)", t.inst.Name, why, t.crashes, backoff(t.crashes)))
}

func (r *rollout) finish(err error) {
	select {
	case r.done <- err:
	default:
	}
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func containsKey(keys []reconcile.Key, k reconcile.Key) bool {
	for _, v := range keys {
		if v == k {
			return true
		}
	}
	return false
}
