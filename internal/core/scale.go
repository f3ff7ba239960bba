package core

import (
	"fmt"
	"sort"
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

// Validate checks a scale spec and says what is allowed. Path is a
// prefix for messages, e.g. "stages[1].scale".
func (s ScaleSpec) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.Min < 0 || s.Min > 100 {
		bad("min %d is out of range; allowed: 0-100", s.Min)
	}
	if s.Max < 1 || s.Max > 100 {
		bad("max %d is out of range; allowed: 1-100", s.Max)
	}
	if s.Min > s.Max {
		bad("min %d is above max %d", s.Min, s.Max)
	}
	mems := MemoryFor(s.CPU)
	if mems == nil {
		bad("cpu %g is not a Fargate size; allowed: 0.25, 0.5, 1, 2, 4", s.CPU)
	} else if !containsInt(mems, s.MemoryMB) {
		bad("memory %d MB is not valid with cpu %g; allowed: %s", s.MemoryMB, s.CPU, memoryRange(s.CPU, mems))
	}
	if s.CPUTarget < 1 || s.CPUTarget > 100 {
		bad("cpu_target %d is out of range; allowed: 1-100 (percent)", s.CPUTarget)
	}
	h := s.Health
	if h.Interval.D() < 100*time.Millisecond || h.Interval.D() > 5*time.Minute {
		bad("health.interval %s is out of range; allowed: 100ms-5m", h.Interval)
	}
	if h.Timeout.D() < 10*time.Millisecond || h.Timeout.D() > h.Interval.D() {
		bad("health.timeout %s must be at least 10ms and at most health.interval (%s)", h.Timeout, h.Interval)
	}
	if h.Healthy < 1 || h.Healthy > 10 {
		bad("health.healthy %d is out of range; allowed: 1-10", h.Healthy)
	}
	if h.Unhealthy < 1 || h.Unhealthy > 10 {
		bad("health.unhealthy %d is out of range; allowed: 1-10", h.Unhealthy)
	}
	for name, d := range map[string]Duration{"scale_out_cooldown": s.ScaleOutCooldown, "scale_in_cooldown": s.ScaleInCooldown, "stop_grace": s.StopGrace, "drain": s.Drain} {
		if d.D() < 0 || d.D() > time.Hour {
			bad("%s %s is out of range; allowed: 0s-1h", name, d)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return Errorf(CodeInvalid, "%s", strings.Join(problems, "; "))
}

func memoryRange(cpu float64, mems []int) string {
	if cpu == 0.25 {
		return "512, 1024, 2048"
	}
	return fmt.Sprintf("%d-%d in steps of 1024", mems[0], mems[len(mems)-1])
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
