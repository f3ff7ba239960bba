package traffic

import (
	"math"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
)

// Stage is the cost model's view of a stage as its status reports it
// (its effective scale or serverless settings, its endpoint kind and its
// routes, which are the balancer's listener rules).
func Stage(arch core.Architecture, ss core.StageStatus) cost.Stage {
	spec := core.StageSpec{Name: ss.Name, Endpoint: core.DefaultEndpoint(), Routes: ss.Routes}
	if ss.Endpoint != "" {
		spec.Endpoint.Kind = ss.Endpoint
	}
	if ss.Scale != nil {
		spec.Scale = *ss.Scale
	}
	if ss.Serverless != nil {
		spec.Serverless = *ss.Serverless
	}
	return cost.StageFromSpec(arch, spec)
}

// Volumes are the request volumes a cost plot spans: 100k to 1B a month,
// ten points a decade on a log scale.
func Volumes() []float64 {
	var out []float64
	for i := 0; i <= 40; i++ {
		out = append(out, math.Round(1e5*math.Pow(10, float64(i)/10)))
	}
	return out
}
