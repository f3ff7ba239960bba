package container

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/reconcile"
)

// logTail is how many of an instance's last log lines a failure shows.
const logTail = 20

// Rollout moves a stage onto rel without downtime and returns when it
// serves (nil) or has been given up (an error saying why):
//   - start the new release's instances, as many as the stage runs;
//   - once all pass their health checks, call activate (the service
//     records the release there) and swap the routes in one snapshot;
//   - drain the old instances (no new requests; in-flight ones get the
//     stage's drain time), then SIGTERM, and SIGKILL after stop_grace.
//
// It fails fast: a new instance that fails its health checks or exits 3
// times aborts the rollout, and the old release keeps serving. Canceling
// ctx, or Abort, also aborts it.
func (c *Controller) Rollout(ctx context.Context, rel core.Release, progress func(string), activate func(context.Context) error) error {
	k := reconcile.Key{Stack: rel.Stack, Stage: rel.Stage}
	r := &rollout{rel: rel, activate: activate, progress: progress, done: make(chan error, 1), started: time.Now()}
	c.mu.Lock()
	st := c.stageState(k)
	prev := st.rollout
	st.rollout = r
	c.releases[rel.Stack+"/"+rel.ID] = rel
	count := st.count
	c.mu.Unlock()
	if prev != nil {
		prev.finish(core.Errorf(core.CodeConflict, "superseded by release %s", rel.ID))
	}
	if count < 1 {
		stage, _ := rel.Spec.Stage(rel.Stage)
		count = max(stage.EffectiveScale().Min, 1)
	}
	c.event(k, "rollout", fmt.Sprintf("rolling out release %s (%d instance(s))", rel.ID, count))
	c.Kick()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if !c.abort(k, r, core.Errorf(core.CodeConflict, "rollout of %s canceled", rel.ID)) {
			// The swap had begun; its outcome is the rollout's.
			return <-r.done
		}
		c.Kick()
		return ctx.Err()
	}
}

// Abort stops a stage's rollout in progress; the release serving before
// keeps serving and the new instances are removed.
func (c *Controller) Abort(stack, stage string) (string, error) {
	k := reconcile.Key{Stack: stack, Stage: stage}
	c.mu.Lock()
	r := c.stageState(k).rollout
	c.mu.Unlock()
	if r == nil {
		return "", core.Errorf(core.CodeNotFound, "stage %s of %s has no rollout in progress", stage, stack)
	}
	if !c.abort(k, r, core.Errorf(core.CodeDeployFailed, "rollout of %s aborted by `slipway abort`", r.rel.ID)) {
		return "", core.Errorf(core.CodeConflict, "release %s is already swapping in on %s/%s; too late to abort (roll back instead)", r.rel.ID, stack, stage)
	}
	c.Kick()
	return r.rel.ID, nil
}

// abort gives up rollout r unless its swap has begun, and reports
// whether it did.
func (c *Controller) abort(k reconcile.Key, r *rollout, err error) bool {
	c.mu.Lock()
	st := c.stageState(k)
	if r.activating {
		c.mu.Unlock()
		return false
	}
	if st.rollout == r {
		st.rollout = nil
	}
	c.mu.Unlock()
	c.event(k, "rollout", err.Error())
	r.finish(err)
	return true
}

// abortWhy is an abort's error and the log lines to show with it.
type abortWhy struct {
	err  *core.Error
	logs []string
}

// abortReason explains why Compute gave up a rollout, from what the
// controller saw of its failing instance. Called with c.mu held, so it
// does no I/O: logsOf names an instance whose logs the caller reads.
func (c *Controller) abortReason(a reconcile.Abort, r *rollout) (why abortWhy, logsOf string) {
	rel := r.rel
	stage, _ := rel.Spec.Stage(rel.Stage)
	path := healthPathOf(rel, stage.EffectiveScale())
	for _, t := range c.insts {
		if t.key != a.Key || t.inst.Release != rel.ID {
			continue
		}
		switch {
		case t.crashes >= reconcile.MaxCrashes:
			what := fmt.Sprintf("exited with code %d", t.exitCode)
			if t.oom {
				what = fmt.Sprintf("was killed for using more than %d MB of memory (OOM)", stage.EffectiveScale().MemoryMB)
			}
			return abortWhy{err: core.Errorf(core.CodeDeployFailed,
				"instance %s of %s/%s %s before answering its health check (GET %s on port %d), %d times; rollout of %s aborted",
				t.inst.Name, rel.Stack, rel.Stage, what, path, rel.Spec.Port, t.crashes, rel.ID), logs: t.logs}, ""
		case t.failed && !t.everHealthy:
			timeout := rel.Spec.Health.StartTimeout.D()
			if timeout <= 0 {
				timeout = core.DefaultStartTimeout
			}
			last := "it has no network address"
			if t.lastErr != "" {
				last = "last answer: " + t.lastErr
			}
			return abortWhy{err: core.Errorf(core.CodeDeployFailed,
				"instance %s of %s/%s never answered its health check GET %s on port %d within %s (%s); check that the app listens on 0.0.0.0:%d and that %s answers 2xx/3xx, or set port/healthcheck in slipway.yml",
				t.inst.Name, rel.Stack, rel.Stage, path, rel.Spec.Port, timeout, last, rel.Spec.Port, path)}, t.inst.ID
		case t.failed:
			return abortWhy{err: core.Errorf(core.CodeDeployFailed,
				"instance %s of %s/%s failed %d health checks in a row (GET %s on port %d: %s); rollout of %s aborted",
				t.inst.Name, rel.Stack, rel.Stage, stage.EffectiveScale().Health.Unhealthy, path, rel.Spec.Port, t.lastErr, rel.ID)}, t.inst.ID
		}
	}
	return abortWhy{err: core.Errorf(core.CodeDeployFailed, "rollout of %s aborted: %s", rel.ID, a.Reason)}, ""
}

// startInstance creates and starts one instance of rel. Instances run
// without a restart policy: the controller restarts crashes itself, with
// backoff, so it sees every exit and its code.
func (c *Controller) startInstance(ctx context.Context, rel core.Release) (string, error) {
	stage, _ := rel.Spec.Stage(rel.Stage)
	scale := stage.EffectiveScale()
	network := c.NetworkName(rel.Stack)
	internal := !stage.Network.EgressAllowed()
	if internal {
		network += "-internal"
	}
	if _, err := c.cfg.Engine.EnsureNetwork(ctx, network, c.Labels(), internal); err != nil {
		return "", fmt.Errorf("create network %s: %w", network, err)
	}
	if a := stage.Network.Attach; a != "" {
		ok, err := c.cfg.Engine.NetworkExists(ctx, a)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", core.Errorf(core.CodeInvalid, "network.attach of stage %s names Docker network %q, which does not exist; create it with `docker network create %s` or fix slipway.yml", rel.Stage, a, a)
		}
	}
	secrets, err := rel.SecretEnv(c.cfg.OpenSecret)
	if err != nil {
		return "", err
	}
	labels := c.Labels()
	labels[core.LabelStack] = rel.Stack
	labels[core.LabelStage] = rel.Stage
	labels[core.LabelRelease] = rel.ID
	id, err := c.cfg.Engine.CreateContainer(ctx, engine.ContainerSpec{
		Name:        fmt.Sprintf("%s-%s-%s-%s", c.NetworkName(rel.Stack), rel.Stage, rel.ID, randomSuffix()),
		Image:       rel.Image,
		Env:         append(rel.Env(), secrets...),
		Labels:      labels,
		Network:     network,
		Aliases:     []string{rel.Stage},
		MemoryBytes: int64(scale.MemoryMB) << 20,
		NanoCPUs:    int64(scale.CPU * 1e9),
		PidsLimit:   core.DefaultPidsLimit,
		StopTimeout: scale.StopGrace.D(),
	})
	if err != nil {
		return "", fmt.Errorf("create instance of %s/%s: %w", rel.Stack, rel.Stage, err)
	}
	if a := stage.Network.Attach; a != "" {
		if err := c.cfg.Engine.ConnectNetwork(ctx, a, id, []string{rel.Stage + "." + rel.Stack}); err != nil {
			c.cfg.Engine.RemoveContainer(context.WithoutCancel(ctx), id)
			return "", fmt.Errorf("attach instance to network %s: %w", a, err)
		}
	}
	if err := c.cfg.Engine.StartContainer(ctx, id); err != nil {
		c.cfg.Engine.RemoveContainer(context.WithoutCancel(ctx), id)
		return "", fmt.Errorf("start instance of %s/%s: %w", rel.Stack, rel.Stage, err)
	}
	return id, nil
}

// retire takes an instance out of the routes at once, then (in the
// background) waits for requests in flight if it was routable, sends
// SIGTERM, SIGKILL after its stop grace, and removes it.
func (c *Controller) retire(id string, drain bool, reason string) {
	c.mu.Lock()
	t := c.insts[id]
	if t == nil || t.retiring {
		c.mu.Unlock()
		return
	}
	t.stopping, t.retiring = true, true
	name, key, running := t.inst.Name, t.key, t.running
	rel := c.releases[key.Stack+"/"+t.inst.Release]
	c.mu.Unlock()
	stage, _ := rel.Spec.Stage(key.Stage)
	scale := stage.EffectiveScale()
	wait := time.Duration(0)
	if drain {
		wait = scale.Drain.D()
	}
	log := c.log.With("stack", key.Stack, "stage", key.Stage, "instance", name)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), wait+scale.StopGrace.D()+30*time.Second)
		defer cancel()
		time.Sleep(wait)
		if running {
			if err := c.cfg.Engine.StopContainer(ctx, id, scale.StopGrace.D()); err != nil && !core.IsNotFound(err) {
				log.Warn("stop instance", "err", err)
			}
		}
		if err := c.cfg.Engine.RemoveContainer(ctx, id); err != nil {
			log.Warn("remove instance; will retry", "err", err)
			c.mu.Lock()
			if t := c.insts[id]; t != nil {
				t.retiring = false // still stopping: retryRemovals tries again
			}
			c.mu.Unlock()
			return
		}
		log.Info("instance removed", "reason", reason)
	}()
}

// retryRemovals retires again the instances whose removal failed.
func (c *Controller) retryRemovals() {
	c.mu.Lock()
	var ids []string
	for id, t := range c.insts {
		if t.stopping && !t.retiring {
			ids = append(ids, id)
		}
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.retire(id, false, "earlier removal failed")
	}
}

// tail returns an instance's last log lines.
func (c *Controller) tail(id string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lines, err := engine.LastLines(ctx, c.cfg.Engine, id, logTail)
	if err != nil && len(lines) == 0 {
		return []string{"(no logs: " + err.Error() + ")"}
	}
	if len(lines) == 0 {
		return []string{"(the instance wrote no log lines)"}
	}
	return lines
}

// RemoveStack removes every instance and the networks of a stack. The
// caller deletes the stack from the store first, so a concurrent pass
// sees its instances as orphans and agrees.
func (c *Controller) RemoveStack(ctx context.Context, stack string) error {
	// No pass may start an instance or a network of the stack meanwhile.
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	labels := c.Labels()
	labels[core.LabelStack] = stack
	cts, err := c.cfg.Engine.ListContainers(ctx, labels)
	if err != nil {
		return fmt.Errorf("list instances of %s: %w", stack, err)
	}
	for _, ct := range cts {
		if err = c.cfg.Engine.RemoveContainer(ctx, ct.ID); err != nil {
			return fmt.Errorf("remove instance %s: %w", ct.Name, err)
		}
	}
	// A concurrent pass may still be removing an instance as an orphan;
	// the network frees up once it is gone.
	for _, network := range []string{c.NetworkName(stack), c.NetworkName(stack) + "-internal"} {
		for try := 0; try < 20; try++ {
			if err = c.cfg.Engine.RemoveNetwork(ctx, network); err == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("remove network %s: %w", network, err)
		}
	}
	c.mu.Lock()
	for key := range c.releases {
		if strings.HasPrefix(key, stack+"/") {
			delete(c.releases, key)
		}
	}
	for k, st := range c.stages {
		if k.Stack == stack {
			if st.rollout != nil {
				st.rollout.finish(core.Errorf(core.CodeConflict, "stack %s was deleted", stack))
			}
			delete(c.stages, k)
		}
	}
	c.mu.Unlock()
	c.Kick() // republish routes without the stack
	return nil
}

// Logs writes the logs of a stage's instances (all stages if stage is
// "") to w, one "instance | line" per line when there are several.
func (c *Controller) Logs(ctx context.Context, stack, stage string, opts engine.LogOptions, w io.Writer) error {
	labels := c.Labels()
	labels[core.LabelStack] = stack
	if stage != "" {
		labels[core.LabelStage] = stage
	}
	cts, err := c.cfg.Engine.ListContainers(ctx, labels)
	if err != nil {
		return fmt.Errorf("list instances of %s: %w", stack, err)
	}
	if len(cts) == 0 {
		where := "stack " + stack
		if stage != "" {
			where = "stage " + stage + " of stack " + stack
		}
		return core.Errorf(core.CodeNotFound, "%s has no instances (deploy it first with `slipway deploy`)", where)
	}
	lines := make(chan string, 64)
	done := make(chan error, len(cts))
	for _, ct := range cts {
		prefix := ""
		if len(cts) > 1 {
			prefix = ct.Name + " | "
		}
		go func() {
			rc, err := c.cfg.Engine.Logs(ctx, ct.ID, opts)
			if err != nil {
				done <- err
				return
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				select {
				case lines <- prefix + sc.Text():
				case <-ctx.Done():
					done <- nil
					return
				}
			}
			done <- nil
		}()
	}
	// Following may wait long for a first line: start the answer now.
	if f, ok := w.(interface{ Flush() }); ok && opts.Follow {
		f.Flush()
	}
	var firstErr error
	for pending := len(cts); pending > 0; {
		select {
		case l := <-lines:
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return err
			}
			if f, ok := w.(interface{ Flush() }); ok {
				f.Flush()
			}
		case err := <-done:
			pending--
			if err != nil && firstErr == nil && !core.IsNotFound(err) {
				firstErr = err
			}
		}
	}
	for {
		select {
		case l := <-lines:
			io.WriteString(w, l+"\n")
		default:
			return firstErr
		}
	}
}

// healthPathOf is the path probed: the stage's health.path, else the
// stack's healthcheck path.
func healthPathOf(rel core.Release, scale core.ScaleSpec) string {
	if scale.Health.Path != "" {
		return scale.Health.Path
	}
	if rel.Spec.Health.Path == "" {
		return core.DefaultHealthPath
	}
	return rel.Spec.Health.Path
}

func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
