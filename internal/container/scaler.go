package container

import (
	"context"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/reconcile"
)

// scaleLoop samples CPU and makes scaling decisions every StatsInterval,
// apart from the passes: the engine answers stats on its own clock (up
// to a second), which must not hold up rollouts and probes.
func (c *Controller) scaleLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.StatsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		c.sampleCPU(ctx, now)
		d, err := c.readDesired(ctx)
		if err != nil {
			continue
		}
		if c.autoscale(d, now) {
			c.Kick()
		}
	}
}

// sampleCPU takes a stats sample of every running instance, in
// parallel, and keeps its utilization over the autoscaler's window.
func (c *Controller) sampleCPU(ctx context.Context, now time.Time) {
	type job struct {
		t    *tracked
		id   string
		cpus float64
	}
	var jobs []job
	c.mu.Lock()
	for _, t := range c.insts {
		if !t.running || t.stopping {
			continue
		}
		rel := c.releases[t.key.Stack+"/"+t.inst.Release]
		stage, _ := rel.Spec.Stage(t.key.Stage)
		jobs = append(jobs, job{t, t.inst.ID, stage.EffectiveScale().CPU})
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.sampleOne(ctx, j.t, j.id, j.cpus, now)
		}()
	}
	wg.Wait()
}

func (c *Controller) sampleOne(ctx context.Context, t *tracked, id string, cpus float64, now time.Time) {
	s, err := c.cfg.Engine.Stats(ctx, id)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.hasStats {
		if pct, ok := Utilization(t.stats, s, cpus); ok {
			t.cpu = append(t.cpu, cpuSample{now, pct})
		}
	}
	t.stats, t.hasStats = s, true
	cut := 0
	for cut < len(t.cpu) && now.Sub(t.cpu[cut].t) > c.cfg.StatsWindow {
		cut++
	}
	t.cpu = t.cpu[cut:]
}

// autoscale makes each serving stage's scaling decision from the average
// CPU of its healthy instances over the window, and records it. It
// reports whether any count changed.
func (c *Controller) autoscale(d desired, now time.Time) bool {
	type decision struct {
		k      reconcile.Key
		reason string
	}
	var made []decision
	c.mu.Lock()
	for _, k := range d.keys {
		serving := d.serving[k]
		st := c.stageState(k)
		if serving == "" || st.rollout != nil || st.count < 0 {
			continue
		}
		var sum float64
		n := 0
		for _, t := range c.insts {
			if t.key != k || t.inst.Release != serving || !t.inst.Healthy || t.stopping {
				continue
			}
			for _, s := range t.cpu {
				sum += s.pct
				n++
			}
		}
		avg := 0.0
		if n > 0 {
			avg = sum / float64(n)
		}
		dec := Autoscale(ScaleInput{Spec: d.scale[k], Current: st.count, AvgCPU: avg, Samples: n, LastOut: st.lastOut, LastIn: st.lastIn, Now: now})
		if !dec.Changed {
			continue
		}
		st.count = dec.Desired
		if dec.Out {
			st.lastOut = now
		} else {
			st.lastIn = now
		}
		made = append(made, decision{k, dec.Reason})
	}
	c.mu.Unlock()
	for _, m := range made {
		c.event(m.k, "scale", m.reason)
	}
	return len(made) > 0
}
