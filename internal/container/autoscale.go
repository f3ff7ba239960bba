package container

import (
	"fmt"
	"math"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Utilization is an instance's CPU use between two samples, in percent
// of the vCPU it reserves (ECS's CPUUtilization): 100 means it used all
// of its share. ok is false when the samples cannot give a rate.
func Utilization(prev, cur engine.Stats, cpus float64) (pct float64, ok bool) {
	dt := cur.Time.Sub(prev.Time)
	if dt <= 0 || cur.CPUNanos < prev.CPUNanos || cpus <= 0 {
		return 0, false
	}
	used := float64(cur.CPUNanos-prev.CPUNanos) / float64(dt.Nanoseconds())
	return 100 * used / cpus, true
}

// ScaleInput is what the autoscaler decides from.
type ScaleInput struct {
	Spec    core.ScaleSpec
	Current int     // the stage's desired count now
	AvgCPU  float64 // stage average utilization over the window, percent
	Samples int     // how many samples the average covers
	LastOut time.Time
	LastIn  time.Time
	Now     time.Time
}

// ScaleDecision is the autoscaler's answer; Reason states the inputs.
type ScaleDecision struct {
	Desired int
	Changed bool
	Out     bool // a scale out (starts the scale-out cooldown)
	Reason  string
}

// Autoscale is target tracking on average CPU: above the target it adds
// enough instances to bring the average back under it (up to max); below
// 0.8 × target it removes one per scale-in cooldown (down to min).
func Autoscale(in ScaleInput) ScaleDecision {
	s := in.Spec
	d := ScaleDecision{Desired: in.Current}
	if in.Current < s.Min || in.Current > s.Max {
		d.Desired = min(max(in.Current, s.Min), s.Max)
		d.Changed, d.Out = true, d.Desired > in.Current
		d.Reason = fmt.Sprintf("desired count %d is outside min %d / max %d", in.Current, s.Min, s.Max)
		return d
	}
	if in.Samples == 0 || in.Current == 0 {
		return d
	}
	target := float64(s.CPUTarget)
	switch {
	case in.AvgCPU > target && in.Current < s.Max:
		if in.Now.Sub(in.LastOut) < s.ScaleOutCooldown.D() {
			return d
		}
		want := int(math.Ceil(float64(in.Current) * in.AvgCPU / target))
		d.Desired = min(max(want, in.Current+1), s.Max)
		d.Changed, d.Out = true, true
		d.Reason = fmt.Sprintf("average CPU %.0f%% over %d samples is above the %d%% target: %d → %d instances", in.AvgCPU, in.Samples, s.CPUTarget, in.Current, d.Desired)
	case in.AvgCPU < 0.8*target && in.Current > s.Min:
		if in.Now.Sub(in.LastIn) < s.ScaleInCooldown.D() || in.Now.Sub(in.LastOut) < s.ScaleInCooldown.D() {
			return d
		}
		d.Desired = in.Current - 1
		d.Changed = true
		d.Reason = fmt.Sprintf("average CPU %.0f%% over %d samples is below 80%% of the %d%% target: %d → %d instances", in.AvgCPU, in.Samples, s.CPUTarget, in.Current, d.Desired)
	}
	return d
}
