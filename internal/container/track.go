package container

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/reconcile"
)

// Crash restarts back off exponentially from 1 s up to 1 min.
const (
	backoffFirst = time.Second
	backoffMax   = time.Minute
	// createdTimeout fails an instance stuck between create and start.
	createdTimeout = 30 * time.Second
)

// tracked is what the controller knows of one instance across passes.
type tracked struct {
	inst    core.Instance
	key     reconcile.Key
	created time.Time // first seen (or created by us)
	started time.Time // last (re)start, for the start timeout

	running      bool
	stopping     bool // being retired: never routed again
	retiring     bool // a retire goroutine is at work on it
	everHealthy  bool
	healthySince time.Time // when it last turned healthy (zero while not)
	adopted      bool      // found running by the first pass: it served before a restart
	passes       int
	fails        int
	lastProbe    time.Time
	lastErr      string
	probedPath   string
	failed       bool

	exited    bool
	crashes   int
	restartAt time.Time
	oom       bool
	exitCode  int
	logs      []string

	stats    engine.Stats
	hasStats bool
	cpu      []cpuSample
}

type cpuSample struct {
	t   time.Time
	pct float64
}

func (t *tracked) view() core.Instance {
	in := t.inst
	in.Healthy = in.Healthy && !t.stopping
	if t.stopping {
		in.State = "stopping" // draining, then SIGTERM and removal
	}
	in.Crashes, in.OOM = t.crashes, t.oom
	if t.exited {
		in.ExitCode = t.exitCode
	}
	if n := len(t.cpu); n > 0 {
		in.CPU = t.cpu[n-1].pct
	}
	return in
}

// input is the instance as reconcile.Compute sees it.
func (t *tracked) input() reconcile.Instance {
	return reconcile.Instance{
		ID: t.inst.ID, Key: t.key, Release: t.inst.Release, Created: t.created,
		Running: t.running, Exited: t.exited, Healthy: t.inst.Healthy && t.running,
		Failed: t.failed, Crashes: t.crashes, RestartAt: t.restartAt,
	}
}

// releaseScale is the scale spec a release carries for its stage, or
// fallback when it carries none.
func releaseScale(rel core.Release, fallback core.ScaleSpec) core.ScaleSpec {
	if st, ok := rel.Spec.Stage(rel.Stage); ok {
		return st.EffectiveScale()
	}
	if fallback.Max == 0 {
		return core.DefaultScale()
	}
	return fallback
}

func backoff(crashes int) time.Duration {
	d := backoffFirst
	for i := 1; i < crashes && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// observe folds the engine's view into the tracked instances. It returns
// the instances that just exited, whose last log lines the caller reads.
func (c *Controller) observe(ctx context.Context, observed []engine.Container, now time.Time) []*tracked {
	seen := map[string]bool{}
	var exits []*tracked
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ct := range observed {
		seen[ct.ID] = true
		t := c.insts[ct.ID]
		if t == nil {
			// Its start timeout counts from now: an adopted instance may
			// have started hours ago under the previous server.
			t = &tracked{created: now, started: now, adopted: c.adopting && ct.Running}
			c.insts[ct.ID] = t
		}
		rel := c.releases[ct.Labels[core.LabelStack]+"/"+ct.Labels[core.LabelRelease]]
		t.key = reconcile.Key{Stack: ct.Labels[core.LabelStack], Stage: ct.Labels[core.LabelStage]}
		t.inst.ID, t.inst.Name, t.inst.State = ct.ID, ct.Name, ct.State
		t.inst.Stack, t.inst.Stage, t.inst.Release = t.key.Stack, t.key.Stage, ct.Labels[core.LabelRelease]
		t.inst.Addr = ""
		if ct.IPAddress != "" && rel.Spec.Port > 0 {
			t.inst.Addr = net.JoinHostPort(ct.IPAddress, strconv.Itoa(rel.Spec.Port))
		}
		wasRunning := t.running
		t.running = ct.Running
		if ct.Running && t.exited {
			// Restarted since (by us, or by a restarted daemon).
			t.exited, t.started, t.passes, t.fails = false, now, 0, 0
		}
		if ct.Running && !wasRunning && !ct.StartedAt.IsZero() && ct.StartedAt.After(t.started) {
			t.started = ct.StartedAt
		}
		if ct.State == "created" && now.Sub(t.created) > createdTimeout && !t.stopping {
			t.failed = true // never started (a server stopped between create and start)
		}
		if !ct.Running && ct.State != "created" && !t.exited && !t.stopping {
			// It stopped by itself: a crash (or a clean exit, which for a
			// server is a crash too). The count of crashes in a row only
			// starts over after a minute of good health.
			if !t.healthySince.IsZero() && now.Sub(t.healthySince) >= backoffMax {
				t.crashes = 0
			}
			t.exited, t.exitCode, t.oom = true, ct.ExitCode, ct.OOMKilled
			t.inst.Healthy, t.passes, t.healthySince, t.adopted = false, 0, time.Time{}, false
			t.crashes++
			t.restartAt = now.Add(backoff(t.crashes))
			exits = append(exits, t)
		}
	}
	for id := range c.insts {
		if !seen[id] {
			delete(c.insts, id)
		}
	}
	return exits
}

// probeDue probes, concurrently, the running instances whose probe is
// due: not-yet-healthy ones every StartupProbe, others every interval.
func (c *Controller) probeDue(ctx context.Context, specs map[reconcile.Key]core.ScaleSpec, now time.Time) {
	type job struct {
		t    *tracked
		hs   core.HealthSpec
		tmo  time.Duration
		addr string
		spec core.ScaleSpec
	}
	var jobs []job
	c.mu.Lock()
	for _, t := range c.insts {
		if !t.running || t.stopping || t.inst.Addr == "" || t.failed {
			continue
		}
		// Health is judged by the spec the instance's own release
		// carries: a rollout may change the path or thresholds.
		rel, ok := c.releases[t.key.Stack+"/"+t.inst.Release]
		if !ok {
			continue
		}
		spec := releaseScale(rel, specs[t.key])
		every := spec.Health.Interval.D()
		if !t.inst.Healthy {
			every = c.cfg.StartupProbe
		}
		if now.Sub(t.lastProbe) < every {
			continue
		}
		hs := rel.Spec.Health
		if spec.Health.Path != "" {
			hs.Path, hs.Explicit = spec.Health.Path, true
		}
		t.lastProbe = now
		jobs = append(jobs, job{t: t, hs: hs, tmo: spec.Health.Timeout.D(), addr: t.inst.Addr, spec: spec})
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, j.tmo)
			path, err := c.prober.probe(pctx, j.addr, j.hs)
			cancel()
			c.mu.Lock()
			defer c.mu.Unlock()
			t := j.t
			spec := j.spec
			t.probedPath = path
			adopted := t.adopted
			t.adopted = false
			if err == nil {
				t.passes, t.fails, t.lastErr = t.passes+1, 0, ""
				// An adopted instance was in service under the previous
				// server: one pass puts it back, so a restart is seamless.
				if (t.passes >= spec.Health.Healthy || adopted) && !t.inst.Healthy {
					t.inst.Healthy, t.everHealthy, t.healthySince = true, true, time.Now()
					if st := c.stages[t.key]; st != nil && st.crash != nil && st.crash.Instance == t.inst.Name {
						st.crash = nil // it recovered
					}
				}
				return
			}
			t.lastErr = oneLine(err.Error())
			t.passes, t.fails = 0, t.fails+1
			if t.inst.Healthy && t.fails >= spec.Health.Unhealthy {
				t.inst.Healthy, t.failed, t.healthySince = false, true, time.Time{}
			}
		}()
	}
	wg.Wait()
	// Instances that never turned healthy within their start timeout
	// have failed.
	c.mu.Lock()
	for _, t := range c.insts {
		if t.everHealthy || t.failed || !t.running || t.stopping {
			continue
		}
		rel := c.releases[t.key.Stack+"/"+t.inst.Release]
		timeout := rel.Spec.Health.StartTimeout.D()
		if timeout <= 0 {
			timeout = core.DefaultStartTimeout
		}
		if now.Sub(t.started) > timeout {
			t.failed = true
		}
	}
	c.mu.Unlock()
}
