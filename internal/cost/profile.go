package cost

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Profile is a month of traffic. Zero rates are derived from the others
// (see EstimateStage's assumptions): a profile may give only
// RequestsPerMonth and DurationMS.
type Profile struct {
	RequestsPerMonth           float64 `json:"requests_per_month"`
	DurationMS                 float64 `json:"duration_ms"`    // mean request duration
	RequestBytes               float64 `json:"request_bytes"`  // mean request size
	ResponseBytes              float64 `json:"response_bytes"` // mean response size
	PeakConcurrency            float64 `json:"peak_concurrency"`
	MeanConcurrency            float64 `json:"mean_concurrency"`
	NewConnectionsPerSecond    float64 `json:"new_connections_per_second"`
	ActiveConnectionsPerMinute float64 `json:"active_connections_per_minute"`
}

// Stage is what of a stage's config the cost depends on.
type Stage struct {
	Architecture string  `json:"architecture"` // "container" | "serverless"
	Endpoint     string  `json:"endpoint"`     // "gateway" | "balancer"
	CPU          float64 `json:"cpu"`          // vCPU per instance (container)
	MemoryMB     int     `json:"memory_mb"`    // per instance (container) or function memory (serverless)
	// MinInstances and MaxInstances are container replicas; for
	// serverless, MinInstances is provisioned concurrency.
	MinInstances int `json:"min_instances"`
	MaxInstances int `json:"max_instances"`
	TimeoutMS    int `json:"timeout_ms"` // serverless
	// InstanceType, for containers, prices ECS on EC2 (one instance of
	// this type, e.g. "t3.micro", per replica) instead of Fargate ("").
	// StageFromSpec leaves it empty: Slipway's CPU and memory map onto
	// Fargate's task sizes.
	InstanceType string `json:"instance_type,omitempty"`
	// Rules is how many ALB listener rules a request is evaluated
	// against on a balancer endpoint: the default one plus one per route
	// (0 = 1). StageFromSpec counts them.
	Rules int `json:"rules,omitempty"`
}

// StageFromSpec takes the cost-relevant part of a stage's spec.
func StageFromSpec(arch core.Architecture, s core.StageSpec) Stage {
	st := Stage{Architecture: string(arch), Endpoint: s.EffectiveEndpoint().Kind}
	if len(s.Routes) > 0 {
		st.Rules = 1 + len(s.Routes)
	}
	if arch == core.ArchServerless {
		sv := s.Serverless
		st.MemoryMB = sv.MemoryMB
		st.MinInstances = sv.MinInstances
		st.MaxInstances = sv.MaxInstances
		st.TimeoutMS = int(sv.Timeout.D() / time.Millisecond)
		return st
	}
	sc := s.EffectiveScale()
	st.CPU = sc.CPU
	st.MemoryMB = sc.MemoryMB
	st.MinInstances = sc.Min
	st.MaxInstances = sc.Max
	return st
}

// ParseCount parses a count for --requests: "10M", "1.5k", "2B",
// "1000000" (suffixes k, M, B, case-insensitive except m = M).
func ParseCount(s string) (float64, error) {
	in := strings.TrimSpace(s)
	mult := 1.0
	if n := len(in); n > 0 {
		switch in[n-1] {
		case 'k', 'K':
			mult = 1e3
		case 'm', 'M':
			mult = 1e6
		case 'b', 'B', 'g', 'G':
			mult = 1e9
		}
		if mult != 1 {
			in = in[:n-1]
		}
	}
	in = strings.ReplaceAll(in, "_", "")
	v, err := strconv.ParseFloat(in, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("bad count %q: want a non-negative number with an optional k, M or B suffix, e.g. 10M", s)
	}
	return v * mult, nil
}

// ParseDurationMS parses a mean duration for --duration: "120ms",
// "1.2s", or a bare number of milliseconds ("120").
func ParseDurationMS(s string) (float64, error) {
	in := strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(in, 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
		return v, nil
	}
	d, err := time.ParseDuration(in)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q: want a non-negative duration such as 120ms or 1.2s", s)
	}
	return float64(d) / float64(time.Millisecond), nil
}
