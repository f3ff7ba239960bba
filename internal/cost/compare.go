package cost

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Option is one architecture × endpoint combination, priced.
type Option struct {
	Architecture string   `json:"architecture"`
	Endpoint     string   `json:"endpoint"`
	Estimate     Estimate `json:"estimate"`
}

// Key names the option as Curve and Crossover do: "container+gateway".
func (o Option) Key() string { return o.Architecture + "+" + o.Endpoint }

// Crossover is where two options cost the same.
type Crossover struct {
	A string `json:"a"` // "container+balancer" etc.
	B string `json:"b"`
	// RequestsPerMonth is the break-even volume, 0 if the costs do not
	// cross between MinRequests and MaxRequests a month.
	RequestsPerMonth float64 `json:"requests_per_month"`
	// CheaperAbove is A or B: the one that costs less above the
	// break-even volume ("" when they do not cross).
	CheaperAbove string `json:"cheaper_above,omitempty"`
}

// Comparison prices the four combinations for one profile.
type Comparison struct {
	Options        []Option    `json:"options"` // the four, cheapest first
	Crossovers     []Crossover `json:"crossovers"`
	Recommendation string      `json:"recommendation"`
}

// The range of monthly request volumes searched for break-even points.
const (
	MinRequests = 1e3
	MaxRequests = 1e10
)

// Keys are the four combinations, in a fixed order.
var Keys = []string{"container+gateway", "container+balancer", "serverless+gateway", "serverless+balancer"}

// variant is the stage as it would be under another architecture and
// endpoint. The stage's own architecture keeps its settings; the other
// gets the same memory and Slipway's defaults. Containers get no maximum
// so that every option serves the same traffic.
func variant(s Stage, key string) Stage {
	arch, endpoint, _ := strings.Cut(key, "+")
	v := s
	v.Endpoint = endpoint
	if arch != orContainer(s.Architecture) {
		v = Stage{Architecture: arch, Endpoint: endpoint, MemoryMB: s.MemoryMB}
		if arch == "container" {
			v.CPU, v.MinInstances = defaultContainerCPU, 1
		}
	}
	v.Architecture = arch
	if arch == "container" {
		v.MaxInstances = 0
	}
	return v
}

func orContainer(arch string) string {
	if arch == "serverless" {
		return arch
	}
	return "container"
}

// scaled is the profile at another monthly volume: the rates it gives
// scale with requests; sizes and duration stay.
func scaled(p Profile, requests float64) Profile {
	f := 0.0
	if p.RequestsPerMonth > 0 {
		f = requests / p.RequestsPerMonth
	}
	q := p
	q.RequestsPerMonth = requests
	q.PeakConcurrency *= f
	q.MeanConcurrency *= f
	q.NewConnectionsPerSecond *= f
	q.ActiveConnectionsPerMinute *= f
	return q
}

// Compare prices the four combinations of architecture × endpoint for
// the profile, finds where each pair breaks even, and recommends one.
func Compare(t *Table, s Stage, p Profile) Comparison {
	var c Comparison
	for _, k := range Keys {
		v := variant(s, k)
		c.Options = append(c.Options, Option{Architecture: v.Architecture, Endpoint: v.Endpoint, Estimate: EstimateStage(t, v, p)})
	}
	slices.SortStableFunc(c.Options, func(a, b Option) int {
		switch {
		case a.Estimate.Total < b.Estimate.Total:
			return -1
		case a.Estimate.Total > b.Estimate.Total:
			return 1
		}
		return 0
	})
	for i, a := range Keys {
		for _, b := range Keys[i+1:] {
			c.Crossovers = append(c.Crossovers, crossover(t, s, p, a, b))
		}
	}
	c.Recommendation = recommend(c, p)
	return c
}

// total is one option's monthly cost at a volume.
func total(t *Table, s Stage, p Profile, key string, requests float64) float64 {
	return EstimateStage(t, variant(s, key), scaled(p, requests)).Total
}

// crossover searches MinRequests..MaxRequests for the first volume where
// a's and b's totals cross: a log-spaced scan, then bisection.
func crossover(t *Table, s Stage, p Profile, a, b string) Crossover {
	const steps = 140 // 20 a decade
	diff := func(r float64) float64 { return total(t, s, p, a, r) - total(t, s, p, b, r) }
	x := Crossover{A: a, B: b}
	lo, dlo := MinRequests, diff(MinRequests)
	for i := 1; i <= steps; i++ {
		hi := MinRequests * math.Pow(MaxRequests/MinRequests, float64(i)/steps)
		dhi := diff(hi)
		if dlo == 0 || dhi == 0 || (dlo < 0) == (dhi < 0) {
			lo, dlo = hi, dhi // no strict change of sign: a touch is not a crossing
			continue
		}
		for range 60 {
			mid := math.Sqrt(lo * hi)
			if dm := diff(mid); dm != 0 && (dm < 0) == (dlo < 0) {
				lo = mid
			} else {
				hi = mid
			}
		}
		x.RequestsPerMonth = math.Round(hi)
		x.CheaperAbove = a
		if dlo < 0 { // a was cheaper below
			x.CheaperAbove = b
		}
		return x
	}
	return x
}

// recommend says which option is cheapest at the profile's volume and
// where the choice of endpoint and of architecture would change.
func recommend(c Comparison, p Profile) string {
	best := c.Options[0]
	var b strings.Builder
	fmt.Fprintf(&b, "At %s requests a month, %s with the %s is cheapest (%s a month; the dearest, %s, is %s).",
		HumanCount(p.RequestsPerMonth), best.Architecture, best.Endpoint, usd(best.Estimate.Total),
		c.Options[3].Key(), usd(c.Options[3].Estimate.Total))
	otherEndpoint := best.Architecture + "+" + other(best.Endpoint, "gateway", "balancer")
	otherArch := other(best.Architecture, "container", "serverless") + "+" + best.Endpoint
	var notes []string
	for _, x := range c.Crossovers {
		for _, o := range []string{otherEndpoint, otherArch} {
			if (x.A == best.Key() && x.B == o) || (x.B == best.Key() && x.A == o) {
				if x.RequestsPerMonth == 0 {
					notes = append(notes, fmt.Sprintf("never with %s between %s and %s requests a month", o, HumanCount(MinRequests), HumanCount(MaxRequests)))
				} else {
					notes = append(notes, fmt.Sprintf("with %s at %s requests a month (%s is cheaper above)", o, HumanCount(x.RequestsPerMonth), x.CheaperAbove))
				}
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString(" It breaks even " + strings.Join(notes, "; ") + ".")
	}
	return b.String()
}

func other(v, a, b string) string {
	if v == a {
		return b
	}
	return a
}

// Curve prices the four combinations at each request volume (the
// profile's rates scaled with requests), for plots. Keys are Keys.
func Curve(t *Table, s Stage, p Profile, requests []float64) map[string][]float64 {
	out := make(map[string][]float64, len(Keys))
	for _, k := range Keys {
		costs := make([]float64, len(requests))
		for i, r := range requests {
			costs[i] = total(t, s, p, k, r)
		}
		out[k] = costs
	}
	return out
}
