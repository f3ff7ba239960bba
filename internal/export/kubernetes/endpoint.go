package kubernetes

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// gap is one endpoint setting with no core Kubernetes equivalent: what
// slipway.yml asks for, and how to get it on a cluster.
type gap struct {
	setting string
	mapping string
}

// Mappings of the gaps, shared by stages; they name kinds of tools, not
// one product, since which gateway a cluster runs is the user's choice.
const (
	apiGatewayMapping = "No core equivalent. Use an API gateway that runs in the cluster (e.g. Kong, Envoy Gateway, Tyk) or a managed one in front of the Ingress."
	controllerMapping = "No core equivalent. Ingress controllers and Gateway API implementations each have their own setting or policy for it."
)

// endpointGaps lists what of a stage's endpoint core Kubernetes (Ingress,
// Service, Knative Service) cannot express, in a fixed order. serverless
// says the stage runs as a Knative Service.
func endpointGaps(ep core.EndpointSpec, serverless bool) []gap {
	var out []gap
	switch ep.Kind {
	case core.EndpointGateway, "":
		g := ep.Gateway
		if g.APIKeys == "required" {
			out = append(out, gap{"api_keys: required (x-api-key header on every request)",
				apiGatewayMapping + " Slipway keeps only the keys' SHA-256, so keys cannot be exported: issue new ones there."})
		}
		for _, name := range slices.Sorted(maps.Keys(g.UsagePlans)) {
			out = append(out, gap{"usage plan " + name + ": " + describePlan(g.UsagePlans[name]),
				apiGatewayMapping + " Per-consumer rate limits and quotas are what its key plugins or policies do."})
		}
		if g.JWT != nil {
			out = append(out, gap{describeJWT(g.JWT),
				"No core equivalent. A gateway's JWT policy, or a service mesh (e.g. Istio's RequestAuthentication and AuthorizationPolicy), validates the token and the scopes."})
		}
		if g.CORS != nil {
			out = append(out, gap{"cors: allow_origins " + strings.Join(g.CORS.AllowOrigins, ", "), controllerMapping})
		}
		out = append(out, gap{fmt.Sprintf("throttle: %g requests/s, burst %d (stage-wide token bucket, answered 429)", g.Throttle.Rate, g.Throttle.Burst), controllerMapping})
		timeoutMapping := controllerMapping
		if serverless {
			timeoutMapping = "Knative's timeoutSeconds carries the stage's serverless timeout; a shorter gateway timeout is a setting of Knative's ingress layer (Kourier, Istio, Contour)."
		}
		out = append(out, gap{"timeout: " + short(g.Timeout.D()) + " per request at the gateway", timeoutMapping})
		out = append(out, gap{fmt.Sprintf("max_body: %d bytes per request body", g.MaxBody), controllerMapping})
	case core.EndpointBalancer:
		bl := ep.Balancer
		if bl.Algorithm == core.LeastOutstanding || bl.Algorithm == "" {
			mapping := controllerMapping + " Many balance round robin by default."
			if serverless {
				mapping = "Knative's activator already sends a request to a revision pod with free concurrency when containerConcurrency is set."
			}
			out = append(out, gap{"algorithm: least_outstanding", mapping})
		}
		if bl.Sticky > 0 {
			out = append(out, gap{"sticky: " + short(bl.Sticky.D()) + " (cookie affinity)",
				controllerMapping + " A Service's sessionAffinity: ClientIP is not the same (by client IP, and bypassed by controllers that send to endpoints directly)."})
		}
		out = append(out, gap{"idle_timeout: " + short(bl.IdleTimeout.D()) + " for idle client connections", controllerMapping})
	}
	return out
}

func describePlan(p core.UsagePlan) string {
	s := fmt.Sprintf("%g requests/s, burst %d", p.Throttle.Rate, p.Throttle.Burst)
	if p.Quota != nil {
		s += fmt.Sprintf(", quota %d per %s", p.Quota.Limit, p.Quota.Period)
	}
	return s
}

func describeJWT(j *core.JWTSpec) string {
	s := "jwt: issuer " + j.Issuer
	if len(j.Audiences) > 0 {
		s += ", audiences " + strings.Join(j.Audiences, ", ")
	}
	if len(j.Scopes) > 0 {
		var parts []string
		for _, p := range slices.Sorted(maps.Keys(j.Scopes)) {
			parts = append(parts, p+" needs "+strings.Join(j.Scopes[p], "+"))
		}
		s += ", scopes " + strings.Join(parts, "; ")
	}
	return s
}

// short prints a duration as a user writes it: 1h, 2m, 90s, 1m30s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
