package cost

import (
	"math"
	"slices"
	"strings"
	"testing"
)

var devStage = Stage{Architecture: "container", Endpoint: "gateway", CPU: 0.25, MemoryMB: 512, MinInstances: 1, MaxInstances: 5}

func TestCompareOrdersTheFourOptions(t *testing.T) {
	c := Compare(t2021(t), devStage, Profile{RequestsPerMonth: 10e6, DurationMS: 120, RequestBytes: 1024, ResponseBytes: 10240})
	var keys []string
	for i, o := range c.Options {
		keys = append(keys, o.Key())
		if i > 0 && o.Estimate.Total < c.Options[i-1].Estimate.Total {
			t.Errorf("options not cheapest first: %s $%.2f after $%.2f", o.Key(), o.Estimate.Total, c.Options[i-1].Estimate.Total)
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	want := slices.Clone(Keys)
	slices.Sort(want)
	if !slices.Equal(sorted, want) {
		t.Fatalf("options %v, want the four %v", keys, Keys)
	}
	if len(c.Crossovers) != 6 {
		t.Errorf("%d crossovers, want one per pair (6)", len(c.Crossovers))
	}
	if !strings.Contains(c.Recommendation, c.Options[0].Architecture+" with the "+c.Options[0].Endpoint+" is cheapest") {
		t.Errorf("recommendation %q does not name the cheapest option %s", c.Recommendation, c.Options[0].Key())
	}
}

// At every break-even volume the two totals are equal, and the cheaper
// one swaps across it.
func TestCrossoversAreWhereTotalsCross(t *testing.T) {
	tb := t2021(t)
	p := Profile{RequestsPerMonth: 10e6, DurationMS: 120, RequestBytes: 1024, ResponseBytes: 10240}
	c := Compare(tb, devStage, p)
	found := 0
	for _, x := range c.Crossovers {
		if x.RequestsPerMonth == 0 {
			continue
		}
		found++
		r := x.RequestsPerMonth
		a, b := total(tb, devStage, p, x.A, r), total(tb, devStage, p, x.B, r)
		if math.Abs(a-b) > 0.01 {
			t.Errorf("%s vs %s at %v: $%.4f vs $%.4f", x.A, x.B, r, a, b)
		}
		below := total(tb, devStage, p, x.A, r*0.95) - total(tb, devStage, p, x.B, r*0.95)
		above := total(tb, devStage, p, x.A, r*1.05) - total(tb, devStage, p, x.B, r*1.05)
		if (below < 0) == (above < 0) {
			t.Errorf("%s vs %s: no swap around %v (%.4f, %.4f)", x.A, x.B, r, below, above)
		}
		if cheaper := map[bool]string{true: x.A, false: x.B}[above < 0]; cheaper != x.CheaperAbove {
			t.Errorf("%s vs %s: cheaper above = %s, want %s", x.A, x.B, x.CheaperAbove, cheaper)
		}
	}
	if found == 0 {
		t.Fatal("no crossovers found")
	}
}

// Lambda behind the gateway against Lambda behind the ALB, by hand:
// they differ only in the front door. The gateway costs $1.00 per
// million (below 300M); the ALB $16.425 a month plus LCUs, whose largest
// dimension for Lambda is bytes: 11,264 B a request / 2^30 / 0.4 GB per
// LCU-hour × $0.008 = $0.000000209808 a request. Break-even:
// 16.425 / (0.000001 − 0.000000209808) = 20,786,097 requests a month.
func TestCrossoverGatewayVsBalancerByHand(t *testing.T) {
	c := Compare(t2021(t), Stage{Architecture: "serverless", MemoryMB: 512}, Profile{RequestsPerMonth: 1e6, DurationMS: 100, RequestBytes: 1024, ResponseBytes: 10240})
	for _, x := range c.Crossovers {
		if x.A == "serverless+gateway" && x.B == "serverless+balancer" {
			if math.Abs(x.RequestsPerMonth-20786097) > 2 || x.CheaperAbove != "serverless+balancer" {
				t.Errorf("break-even %v (%s cheaper above), want 20,786,097 (serverless+balancer)", x.RequestsPerMonth, x.CheaperAbove)
			}
			return
		}
	}
	t.Fatal("no serverless+gateway vs serverless+balancer crossover")
}

// Options that never cross in range report 0.
func TestCrossoverNeverInRange(t *testing.T) {
	tb := t2021(t)
	// Forty always-on 4 vCPU tasks (40 × 730 h × 4 × $0.04048 = $4,728)
	// cost more than Lambda at any volume up to 10B requests of 1 ms at
	// 128 MB (10B × $0.20/1M = $2,000 for requests, 1.25M GB-s ≈ $14).
	s := Stage{Architecture: "container", Endpoint: "gateway", CPU: 4, MemoryMB: 128, MinInstances: 40}
	x := crossover(tb, s, Profile{RequestsPerMonth: 1e6, DurationMS: 1, RequestBytes: 100, ResponseBytes: 100}, "container+gateway", "serverless+gateway")
	if x.RequestsPerMonth != 0 || x.CheaperAbove != "" {
		t.Errorf("crossover = %+v, want none", x)
	}
}

func TestCurveMatchesEstimates(t *testing.T) {
	tb := t2021(t)
	p := Profile{RequestsPerMonth: 1e6, DurationMS: 120, RequestBytes: 1024, ResponseBytes: 10240, NewConnectionsPerSecond: 2}
	volumes := []float64{1e3, 1e5, 1e7, 1e9}
	curve := Curve(tb, devStage, p, volumes)
	if len(curve) != 4 {
		t.Fatalf("curve keys %v", curve)
	}
	for _, k := range Keys {
		costs := curve[k]
		if len(costs) != len(volumes) {
			t.Fatalf("%s: %d costs for %d volumes", k, len(costs), len(volumes))
		}
		for i, r := range volumes {
			// The profile's rates scale with volume: 2 new connections/s
			// at 1M is 2,000/s at 1B.
			q := p
			q.RequestsPerMonth = r
			q.NewConnectionsPerSecond = 2 * r / 1e6
			if want := EstimateStage(tb, variant(devStage, k), q).Total; math.Abs(costs[i]-want) > 1e-9 {
				t.Errorf("%s at %v: curve $%.4f, estimate $%.4f", k, r, costs[i], want)
			}
			if i > 0 && costs[i] < costs[i-1] {
				t.Errorf("%s: cost falls from $%.2f to $%.2f as volume rises", k, costs[i-1], costs[i])
			}
		}
	}
}

// The other architecture gets the same memory and defaults; a
// container option has no maximum, so it serves the whole load.
func TestVariant(t *testing.T) {
	sv := variant(devStage, "serverless+balancer")
	if sv != (Stage{Architecture: "serverless", Endpoint: "balancer", MemoryMB: 512}) {
		t.Errorf("serverless variant %+v", sv)
	}
	ct := variant(Stage{Architecture: "serverless", MemoryMB: 2048, MinInstances: 3, MaxInstances: 100}, "container+gateway")
	if ct != (Stage{Architecture: "container", Endpoint: "gateway", CPU: 0.25, MemoryMB: 2048, MinInstances: 1}) {
		t.Errorf("container variant %+v", ct)
	}
	if own := variant(devStage, "container+balancer"); own.CPU != 0.25 || own.MinInstances != 1 || own.MaxInstances != 0 || own.Endpoint != "balancer" {
		t.Errorf("own-architecture variant %+v", own)
	}
}
