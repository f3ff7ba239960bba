package core

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ScaleSpec is how a container stage runs: how many instances, how big,
// when to add or remove one, how to judge and retire them. Every field
// has a default (TinyStacks' and ECS's), applied by DefaultScale.
type ScaleSpec struct {
	Min              int         `json:"min"`
	Max              int         `json:"max"`
	CPU              float64     `json:"cpu"`        // vCPU per instance
	MemoryMB         int         `json:"memory"`     // MB per instance
	CPUTarget        int         `json:"cpu_target"` // percent of the instance's vCPU, averaged over the stage
	ScaleOutCooldown Duration    `json:"scale_out_cooldown"`
	ScaleInCooldown  Duration    `json:"scale_in_cooldown"`
	Health           HealthCheck `json:"health"`
	StopGrace        Duration    `json:"stop_grace"` // SIGTERM to SIGKILL
	Drain            Duration    `json:"drain"`      // deregistration delay: in-flight requests finish
}

// HealthCheck is how instances are probed once running.
type HealthCheck struct {
	Path      string   `json:"path"` // "" means the stack's healthcheck path
	Interval  Duration `json:"interval"`
	Timeout   Duration `json:"timeout"`
	Healthy   int      `json:"healthy"`   // consecutive passes to join the routes
	Unhealthy int      `json:"unhealthy"` // consecutive failures to leave them and be replaced
}

// NetworkSpec places a stage's instances.
type NetworkSpec struct {
	// Egress false puts the stage on an internal network with no route
	// out of the host. nil means true.
	Egress *bool `json:"egress,omitempty"`
	// Attach joins an existing Docker network as well ("bring your own VPC").
	Attach string `json:"attach,omitempty"`
}

// EgressAllowed reports whether instances may reach the outside.
func (n NetworkSpec) EgressAllowed() bool { return n.Egress == nil || *n.Egress }

// Scale defaults.
const (
	DefaultMin       = 1
	DefaultMax       = 5
	DefaultCPUTarget = 75
)

// DefaultScale is the scale spec of a stage that sets nothing.
func DefaultScale() ScaleSpec {
	return ScaleSpec{
		Min: DefaultMin, Max: DefaultMax, CPU: DefaultCPU, MemoryMB: DefaultMemoryMB, CPUTarget: DefaultCPUTarget,
		ScaleOutCooldown: Duration(30 * time.Second), ScaleInCooldown: Duration(5 * time.Minute),
		Health:    HealthCheck{Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), Healthy: 2, Unhealthy: 3},
		StopGrace: Duration(10 * time.Second), Drain: Duration(10 * time.Second),
	}
}

// EffectiveScale is the stage's scale spec, or the defaults for a spec
// stored before scale specs existed (Max 0).
func (st StageSpec) EffectiveScale() ScaleSpec {
	if st.Scale.Max == 0 {
		return DefaultScale()
	}
	return st.Scale
}

// CPUs are the vCPU sizes Fargate offers, and MemoryFor the memory (MB)
// each allows: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
var CPUs = []float64{0.25, 0.5, 1, 2, 4}

// MemoryFor lists the valid memory sizes (MB) for a vCPU size.
func MemoryFor(cpu float64) []int {
	var lo, hi, step int
	switch cpu {
	case 0.25:
		return []int{512, 1024, 2048}
	case 0.5:
		lo, hi, step = 1024, 4096, 1024
	case 1:
		lo, hi, step = 2048, 8192, 1024
	case 2:
		lo, hi, step = 4096, 16384, 1024
	case 4:
		lo, hi, step = 8192, 30720, 1024
	default:
		return nil
	}
	var out []int
	for m := lo; m <= hi; m += step {
		out = append(out, m)
	}
	return out
}

// Limits of a scale spec, beyond CPUs and MemoryFor.
const (
	maxInstances   = 100
	minCPUTarget   = 1
	maxCPUTarget   = 100
	minInterval    = 100 * time.Millisecond
	maxInterval    = 5 * time.Minute
	minTimeout     = 10 * time.Millisecond
	maxThreshold   = 10 // health.healthy and health.unhealthy
	maxDelay       = time.Hour
	cpuUnitsPerCPU = 1024
)

// ScaleProblem is one rule a scale spec breaks. Field is the key at fault
// ("memory", "health.timeout"); Related, when not empty, is the key it
// conflicts with ("cpu"), so that a manifest parser can point at whichever
// of the two the user wrote. Detail follows the field's name in a message.
type ScaleProblem struct {
	Field   string
	Related string
	Detail  string // e.g. "3000 is not valid with cpu 0.25; allowed: 512, 1024, 2048"
}

func (p ScaleProblem) String() string { return p.Field + " " + p.Detail }

// Problems lists the rules s breaks, in field order, each saying what is
// allowed; nil when s is valid. A conflict between two fields is only
// reported when both are in range on their own.
func (s ScaleSpec) Problems() []ScaleProblem {
	var out []ScaleProblem
	bad := func(field, related, format string, args ...any) {
		out = append(out, ScaleProblem{Field: field, Related: related, Detail: fmt.Sprintf(format, args...)})
	}
	// A container stage always runs at least one instance; scaling to
	// zero is what the serverless architecture is for.
	minOK := s.Min >= 1 && s.Min <= maxInstances
	maxOK := s.Max >= 1 && s.Max <= maxInstances
	if !minOK {
		bad("min", "", "%d is out of range; allowed: 1-%d (scale to zero is the serverless architecture's)", s.Min, maxInstances)
	}
	if !maxOK {
		bad("max", "", "%d is out of range; allowed: 1-%d", s.Max, maxInstances)
	}
	if minOK && maxOK && s.Min > s.Max {
		bad("min", "max", "%d is above max %d; allowed: at most max", s.Min, s.Max)
	}
	if mems := MemoryFor(s.CPU); mems == nil {
		hint := ""
		if s.CPU >= 128 {
			hint = fmt.Sprintf(" (vCPU, not CPU units: %d units are 1 vCPU)", cpuUnitsPerCPU)
		}
		bad("cpu", "", "%g is not a Fargate size; allowed: %s%s", s.CPU, CPUList(), hint)
	} else if !slices.Contains(mems, s.MemoryMB) {
		hint := ""
		if s.MemoryMB > 0 && s.MemoryMB <= 30 {
			hint = fmt.Sprintf(" (memory is in MB: %d GB is %d)", s.MemoryMB, s.MemoryMB*1024)
		}
		bad("memory", "cpu", "%d is not valid with cpu %g; allowed: %s%s", s.MemoryMB, s.CPU, memoryRange(mems), hint)
	}
	if s.CPUTarget < minCPUTarget || s.CPUTarget > maxCPUTarget {
		bad("cpu_target", "", "%d is out of range; allowed: %d-%d (percent)", s.CPUTarget, minCPUTarget, maxCPUTarget)
	}
	delay := func(field string, d Duration) {
		if d.D() < 0 || d.D() > maxDelay {
			bad(field, "", "%s is out of range; allowed: 0s-%s", shortDuration(d.D()), shortDuration(maxDelay))
		}
	}
	delay("scale_out_cooldown", s.ScaleOutCooldown)
	delay("scale_in_cooldown", s.ScaleInCooldown)
	h := s.Health
	intervalOK := h.Interval.D() >= minInterval && h.Interval.D() <= maxInterval
	timeoutOK := h.Timeout.D() >= minTimeout && h.Timeout.D() <= maxInterval
	if !intervalOK {
		bad("health.interval", "", "%s is out of range; allowed: %s-%s", shortDuration(h.Interval.D()), shortDuration(minInterval), shortDuration(maxInterval))
	}
	if !timeoutOK {
		bad("health.timeout", "", "%s is out of range; allowed: %s-%s, and at most health.interval", shortDuration(h.Timeout.D()), shortDuration(minTimeout), shortDuration(maxInterval))
	}
	if intervalOK && timeoutOK && h.Timeout > h.Interval {
		bad("health.timeout", "health.interval", "%s is longer than health.interval %s; allowed: at most health.interval", shortDuration(h.Timeout.D()), shortDuration(h.Interval.D()))
	}
	if h.Healthy < 1 || h.Healthy > maxThreshold {
		bad("health.healthy", "", "%d is out of range; allowed: 1-%d", h.Healthy, maxThreshold)
	}
	if h.Unhealthy < 1 || h.Unhealthy > maxThreshold {
		bad("health.unhealthy", "", "%d is out of range; allowed: 1-%d", h.Unhealthy, maxThreshold)
	}
	delay("stop_grace", s.StopGrace)
	delay("drain", s.Drain)
	return out
}

// Validate checks a scale spec and says what is allowed: every problem,
// in field order, on one line.
func (s ScaleSpec) Validate() error {
	problems := s.Problems()
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.String()
	}
	return Errorf(CodeInvalid, "%s", strings.Join(msgs, "; "))
}

// CPUList renders CPUs for messages: "0.25, 0.5, 1, 2, 4".
func CPUList() string {
	out := make([]string, len(CPUs))
	for i, c := range CPUs {
		out[i] = fmt.Sprintf("%g", c)
	}
	return strings.Join(out, ", ")
}

// memoryRange renders MemoryFor(cpu) for messages: a short list as is,
// a long one as its range and step.
func memoryRange(mems []int) string {
	if len(mems) <= 3 {
		out := make([]string, len(mems))
		for i, m := range mems {
			out[i] = fmt.Sprint(m)
		}
		return strings.Join(out, ", ")
	}
	return fmt.Sprintf("%d-%d in steps of %d", mems[0], mems[len(mems)-1], mems[1]-mems[0])
}

// shortDuration prints 5m rather than 5m0s, as a user would write it.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
