package cost

import (
	"encoding/json"
	"flag"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the tables, estimates and comparisons")

// Estimates of a few stages under the July 2021 table, as indented JSON
// (the API's shape), against testdata/golden/estimate-*.golden.
func TestEstimateGolden(t *testing.T) {
	tb := t2021(t)
	web := Profile{RequestsPerMonth: 10e6, DurationMS: 120, RequestBytes: 2048, ResponseBytes: 16384}
	cases := []struct {
		name string
		s    Stage
		p    Profile
	}{
		{"dev-t3micro-gateway", Stage{Architecture: "container", Endpoint: "gateway", InstanceType: "t3.micro", MinInstances: 1, MaxInstances: 1},
			Profile{RequestsPerMonth: 100_000, DurationMS: 100, RequestBytes: 1024, ResponseBytes: 10240}},
		{"fargate-balancer", Stage{Architecture: "container", Endpoint: "balancer", CPU: 0.5, MemoryMB: 1024, MinInstances: 2, MaxInstances: 5}, web},
		{"lambda-gateway", Stage{Architecture: "serverless", Endpoint: "gateway", MemoryMB: 512, MaxInstances: 100, TimeoutMS: 30000}, web},
		{"lambda-provisioned-balancer", Stage{Architecture: "serverless", Endpoint: "balancer", MemoryMB: 1024, MinInstances: 1, MaxInstances: 100, TimeoutMS: 30000}, web},
		{"defaults-only", Stage{}, Profile{RequestsPerMonth: 1e6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.MarshalIndent(EstimateStage(tb, c.s, c.p), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "estimate-"+c.name, string(b)+"\n")
		})
	}
}

// A comparison's options (totals), crossovers and recommendation.
func TestCompareGolden(t *testing.T) {
	tb := t2021(t)
	c := Compare(tb, Stage{Architecture: "container", Endpoint: "gateway", CPU: 0.25, MemoryMB: 512, MinInstances: 1, MaxInstances: 5},
		Profile{RequestsPerMonth: 10e6, DurationMS: 120, RequestBytes: 1024, ResponseBytes: 10240})
	type opt struct {
		Key   string  `json:"key"`
		Total float64 `json:"total"`
	}
	out := struct {
		Options        []opt       `json:"options"`
		Crossovers     []Crossover `json:"crossovers"`
		Recommendation string      `json:"recommendation"`
	}{Crossovers: c.Crossovers, Recommendation: c.Recommendation}
	for _, o := range c.Options {
		out.Options = append(out.Options, opt{o.Key(), o.Estimate.Total})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare-container-10M", string(b)+"\n")
}
