package container

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// logTail is how many of an instance's last log lines a failure shows.
const logTail = 20

// Rollout moves a stage onto rel without downtime: it starts the new
// instance, waits for it to pass its health check, calls activate (the
// service records the stage's new release there), swaps the routes, and
// retires the old instances after a drain. If the new instance never
// turns healthy, it is removed, the old release keeps serving, and the
// error (CodeDeployFailed) says what was probed and carries the
// instance's last log lines.
func (c *Controller) Rollout(ctx context.Context, rel core.Release, progress func(string), activate func(context.Context) error) error {
	k := StageKey{rel.Stack, rel.Stage}
	unlock := c.lockStage(k)
	defer unlock()
	c.mu.Lock()
	c.rolling[k] = rel.ID
	c.releases[rel.Stack+"/"+rel.ID] = rel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.rolling, k)
		c.mu.Unlock()
	}()

	// No restart policy until it is healthy: a crash then leaves it
	// exited with its real exit code, which the error reports.
	id, err := c.startInstance(ctx, rel, false)
	if err != nil {
		return err
	}
	ct, err := c.cfg.Engine.InspectContainer(ctx, id)
	if err != nil {
		c.discard(id)
		return fmt.Errorf("inspect new instance: %w", err)
	}
	progress(fmt.Sprintf("started instance %s; waiting for GET %s on port %d to answer 2xx/3xx", ct.Name, healthPath(rel.Spec.Health), rel.Spec.Port))
	in, err := c.waitHealthy(ctx, ct, rel)
	if err != nil {
		c.discard(id)
		return err
	}
	progress(fmt.Sprintf("instance %s is healthy at %s", ct.Name, in.Addr))
	if err := c.cfg.Engine.SetRestart(ctx, id, true); err != nil {
		c.discard(id)
		return fmt.Errorf("set restart policy of the new instance: %w", err)
	}
	if err := activate(ctx); err != nil {
		c.discard(id)
		return fmt.Errorf("activate release %s: %w", rel.ID, err)
	}
	c.setHealth(in, true, false)
	// Sync publishes the new routes (the store now says rel serves the
	// stage) and retires the previous release's instances.
	if err := c.Sync(ctx); err != nil {
		c.log.Warn("sync after rollout", "err", err)
	}
	return nil
}

// startInstance creates and starts one instance of rel on the stack's
// network.
func (c *Controller) startInstance(ctx context.Context, rel core.Release, restart bool) (string, error) {
	network := c.NetworkName(rel.Stack)
	if _, err := c.cfg.Engine.EnsureNetwork(ctx, network, c.Labels()); err != nil {
		return "", fmt.Errorf("create network %s: %w", network, err)
	}
	labels := c.Labels()
	labels[core.LabelStack] = rel.Stack
	labels[core.LabelStage] = rel.Stage
	labels[core.LabelRelease] = rel.ID
	spec := engine.ContainerSpec{
		Name:          fmt.Sprintf("%s-%s-%s-%s", network, rel.Stage, rel.ID, randomSuffix()),
		Image:         rel.Image,
		Env:           instanceEnv(rel),
		Labels:        labels,
		Network:       network,
		Aliases:       []string{rel.Stage},
		MemoryBytes:   core.DefaultMemoryMB << 20,
		NanoCPUs:      int64(core.DefaultCPU * 1e9),
		PidsLimit:     core.DefaultPidsLimit,
		StopTimeout:   c.cfg.StopGrace,
		RestartAlways: restart,
	}
	id, err := c.cfg.Engine.CreateContainer(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("create instance of %s/%s: %w", rel.Stack, rel.Stage, err)
	}
	if err := c.cfg.Engine.StartContainer(ctx, id); err != nil {
		c.discard(id)
		return "", fmt.Errorf("start instance of %s/%s: %w", rel.Stack, rel.Stage, err)
	}
	return id, nil
}

// instanceEnv is the stage's env plus PORT, sorted for stable output.
func instanceEnv(rel core.Release) []string {
	env := []string{fmt.Sprintf("PORT=%d", rel.Spec.Port)}
	if st, ok := rel.Spec.Stage(rel.Stage); ok {
		for k, v := range st.Env {
			env = append(env, k+"="+v)
		}
	}
	sort.Strings(env[1:])
	return env
}

// waitHealthy polls a new instance until it passes one probe, exits, or
// the release's start timeout passes.
func (c *Controller) waitHealthy(ctx context.Context, ct engine.Container, rel core.Release) (core.Instance, error) {
	timeout := rel.Spec.Health.StartTimeout.D()
	if timeout <= 0 {
		timeout = core.DefaultStartTimeout
	}
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	path, lastErr := healthPath(rel.Spec.Health), error(nil)
	for {
		cur, err := c.cfg.Engine.InspectContainer(ctx, ct.ID)
		if err != nil {
			return core.Instance{}, fmt.Errorf("inspect instance %s: %w", ct.Name, err)
		}
		// Exited, restarting (the restart policy caught an exit, even with
		// code 0), or started again since we first looked: it died.
		restarted := !ct.StartedAt.IsZero() && !cur.StartedAt.IsZero() && !cur.StartedAt.Equal(ct.StartedAt)
		if !cur.Running && cur.State != "created" || cur.State == "restarting" || restarted {
			why := fmt.Sprintf("exited with code %d", cur.ExitCode)
			if cur.OOMKilled {
				why = fmt.Sprintf("was killed for using more than %d MB of memory", core.DefaultMemoryMB)
			}
			return core.Instance{}, core.Errorf(core.CodeDeployFailed,
				"instance %s of %s/%s %s before answering its health check (GET %s on port %d)",
				ct.Name, rel.Stack, rel.Stage, why, path, rel.Spec.Port).WithDetails(c.tail(ct.ID))
		}
		in := instanceOf(cur, rel.Spec.Port)
		if in.Addr != "" {
			path, lastErr = c.prober.probe(ctx, in.Addr, rel.Spec.Health)
			if lastErr == nil {
				in.Healthy = true
				return in, nil
			}
		}
		if time.Now().After(deadline) {
			why := "it has no network address"
			if lastErr != nil {
				why = "last answer: " + oneLine(lastErr.Error())
			}
			return core.Instance{}, core.Errorf(core.CodeDeployFailed,
				"instance %s of %s/%s never answered its health check GET %s on port %d within %s (%s); check that the app listens on 0.0.0.0:%d and that %s answers 2xx/3xx, or set port/healthcheck in slipway.yml",
				ct.Name, rel.Stack, rel.Stage, path, rel.Spec.Port, timeout, why, rel.Spec.Port, path).WithDetails(c.tail(ct.ID))
		}
		select {
		case <-ctx.Done():
			return core.Instance{}, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// tail returns an instance's last log lines.
func (c *Controller) tail(id string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := c.cfg.Engine.Logs(ctx, id, engine.LogOptions{Tail: logTail})
	if err != nil {
		return []string{"(no logs: " + err.Error() + ")"}
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) == 0 {
		return []string{"(the instance wrote no log lines)"}
	}
	return lines
}

// discard removes a failed new instance.
func (c *Controller) discard(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cfg.Engine.RemoveContainer(ctx, id); err != nil {
		c.log.Warn("remove failed instance", "instance", short(id), "err", err)
	}
	c.mu.Lock()
	delete(c.health, id)
	c.mu.Unlock()
}

// RemoveStack removes every instance and the network of a stack. The
// caller deletes the stack from the store first, so a concurrent sync
// sees its instances as orphans and agrees.
func (c *Controller) RemoveStack(ctx context.Context, stack string) error {
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
	// A concurrent sync may still be removing an instance as an orphan;
	// the network frees up once it is gone.
	for try := 0; try < 20; try++ {
		if err = c.cfg.Engine.RemoveNetwork(ctx, c.NetworkName(stack)); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("remove network of %s: %w", stack, err)
	}
	c.mu.Lock()
	for key := range c.releases {
		if strings.HasPrefix(key, stack+"/") {
			delete(c.releases, key)
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

func healthPath(hs core.HealthSpec) string {
	if hs.Path == "" {
		return core.DefaultHealthPath
	}
	return hs.Path
}

func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
