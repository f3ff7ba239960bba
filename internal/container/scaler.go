package container

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/internal/reconcile"
)

// sampleCPU takes a stats sample of every running instance and keeps its
// utilization over the autoscaler's window.
func (c *Controller) sampleCPU(ctx context.Context, now time.Time) {
	type job struct {
		t    *tracked
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
		jobs = append(jobs, job{t, stage.EffectiveScale().CPU})
	}
	c.mu.Unlock()
	for _, j := range jobs {
		s, err := c.cfg.Engine.Stats(ctx, j.t.inst.ID)
		if err != nil {
			continue
		}
		c.mu.Lock()
		t := j.t
		if t.hasStats {
			if pct, ok := Utilization(t.stats, s, j.cpus); ok {
				t.cpu = append(t.cpu, cpuSample{now, pct})
			}
		}
		t.stats, t.hasStats = s, true
		cut := 0
		for cut < len(t.cpu) && now.Sub(t.cpu[cut].t) > c.cfg.StatsWindow {
			cut++
		}
		t.cpu = t.cpu[cut:]
		c.mu.Unlock()
	}
}

// autoscale makes each serving stage's scaling decision from the average
// CPU of its healthy instances over the window, and records it.
func (c *Controller) autoscale(d desired, now time.Time) {
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
}
