package manifest

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/slipwayhq/slipway/internal/core"
)

// An endpoint block (top level and per stage) is a stage's front door. It
// is layered like scale (layer.go): core.DefaultEndpoint, then the
// top-level block, then the stage's, key by key, into the gateway and
// balancer blocks too. A usage plan, a jwt block and a cors block are each
// one value: a stage's replaces the top level's whole, so that a stage
// never ends up with half of one authorizer and half of another.
//
// Unlike scale and serverless, the rules are checked here, where the
// value is read, with its exact position: core has no EndpointSpec.Problems
// yet, and every rule but one is about a single value. That one, a block
// of the other kind, is checked once the layers are merged (endpointKinds).

// Keys and values of an endpoint block.
var (
	endpointKeys  = []string{"kind", "gateway", "balancer"}
	gatewayKeys   = []string{"api_keys", "usage_plans", "jwt", "cors", "throttle", "timeout", "max_body"}
	usagePlanKeys = []string{"rate", "burst", "quota"}
	quotaKeys     = []string{"limit", "period"}
	throttleKeys  = []string{"rate", "burst"}
	jwtKeys       = []string{"issuer", "audiences", "jwks_url", "scopes"}
	corsKeys      = []string{"allow_origins", "allow_methods", "allow_headers", "expose_headers", "max_age", "allow_credentials"}
	balancerKeys  = []string{"algorithm", "sticky", "idle_timeout"}

	endpointKinds = []string{core.EndpointGateway, core.EndpointBalancer}
	apiKeyModes   = []string{APIKeysRequired, APIKeysOptional}
	quotaPeriods  = []string{core.QuotaDay, core.QuotaWeek, core.QuotaMonth}
	algorithms    = []string{core.LeastOutstanding, core.RoundRobinAlgo}
	corsMethods   = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"}
)

// Values of endpoint.gateway.api_keys.
const (
	APIKeysRequired = "required"
	APIKeysOptional = "optional"
)

// Limits of endpoint values: API Gateway's (HTTP APIs) for the gateway,
// the ALB's for the balancer. API Gateway's throttle defaults (10,000
// req/s, burst 5,000) are account quotas AWS raises on request, so the
// ceiling here is far above them.
const (
	MaxRate           = 1_000_000 // requests per second
	MaxBurst          = 1_000_000 // requests at once
	MinGatewayTimeout = time.Second
	MaxGatewayTimeout = core.MaxGatewayTimeout
	MinMaxBody        = 1 << 20
	MaxMaxBody        = core.DefaultMaxBody
	MaxCORSMaxAge     = 24 * time.Hour
	MinSticky         = time.Second
	MaxSticky         = 7 * 24 * time.Hour
	MinIdleTimeout    = time.Second
	MaxIdleTimeout    = 4000 * time.Second
)

// usagePlanNameRE: a plan is named on the command line (`slipway key
// create --plan gold`), so plain words only.
var usagePlanNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

const usagePlanNameRule = "use 1-40 lower-case letters, digits, '_' and '-', starting with a letter"

// endpointLayer is an endpoint block as written; see layer.go.
type endpointLayer = layer[core.EndpointSpec]

var endpointRules = rules[core.EndpointSpec]{
	block:    "endpoint",
	defaults: core.DefaultEndpoint,
	problems: func(core.EndpointSpec) []core.ScaleProblem { return nil }, // checked as read
}

// endpointBlock is an endpoint block's layer plus its gateway and balancer
// keys, checked against the kind once the layers are merged.
type endpointBlock struct {
	layer             *endpointLayer
	gateway, balancer *entry
}

// endpoint reads an endpoint block.
func (d *decoder) endpoint(e entry) endpointBlock {
	b := endpointBlock{layer: newLayer[core.EndpointSpec](e)}
	l := b.layer
	m, ok := d.mapping(e, "endpoint settings ("+allowedList(endpointKeys)+")")
	if !ok {
		return b
	}
	for _, f := range d.fields(m, e.path, e.path+".", endpointKeys, nil) {
		switch f.key {
		case "kind":
			k, ok := d.oneOf(f, endpointKinds)
			l.put(f.key, f, ok, func(s *core.EndpointSpec) { s.Kind = k })
		case "gateway":
			b.gateway = &f
			d.gateway(f, l)
		case "balancer":
			b.balancer = &f
			d.balancer(f, l)
		}
	}
	return b
}

// balancer reads endpoint.balancer, key by key.
func (d *decoder) balancer(e entry, l *endpointLayer) {
	m, ok := d.mapping(e, "balancer settings ("+allowedList(balancerKeys)+")")
	if !ok {
		return
	}
	for _, f := range d.fields(m, e.path, e.path+".", balancerKeys, nil) {
		field := "balancer." + f.key
		switch f.key {
		case "algorithm":
			a, ok := d.oneOf(f, algorithms)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Balancer.Algorithm = a })
		case "sticky":
			// 0s is allowed, and means off: a stage can then undo the
			// top level's stickiness.
			t, ok := d.seconds(f, MinSticky, MaxSticky, true, "0s (off) or 1s to 168h (7 days), in whole seconds")
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Balancer.Sticky = core.Duration(t) })
		case "idle_timeout":
			t, ok := d.seconds(f, MinIdleTimeout, MaxIdleTimeout, false, "1s to 4000s, in whole seconds")
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Balancer.IdleTimeout = core.Duration(t) })
		}
	}
}

// seconds reads a duration of whole seconds within [lo, hi], or 0 when
// zeroOK: the ALB's settings and CORS's max age are counted in seconds.
// allowed is said in messages.
func (d *decoder) seconds(e entry, lo, hi time.Duration, zeroOK bool, allowed string) (time.Duration, bool) {
	t, text, ok := d.anyDuration(e, " (allowed: "+allowed+")")
	if !ok {
		return 0, false
	}
	switch {
	case (t != 0 || !zeroOK) && (t < lo || t > hi):
		d.addf(posOf(e.value), "invalid %s %q: out of range; allowed: %s", e.path, text, allowed)
	case t%time.Second != 0:
		d.addf(posOf(e.value), "invalid %s %q: not a whole number of seconds; allowed: %s", e.path, text, allowed)
	default:
		return t, true
	}
	return 0, false
}

// applyEndpoint gives every stage a complete endpoint spec, and refuses a
// gateway or balancer block that no stage of its kind uses.
func (d *decoder) applyEndpoint(stages []core.StageSpec, top *endpointBlock, blocks []*endpointBlock) {
	var topLayer *endpointLayer
	if top != nil {
		topLayer = top.layer
	}
	layers := make([]*endpointLayer, len(blocks))
	for i, b := range blocks {
		if b != nil {
			layers[i] = b.layer
		}
	}
	specs := make([]core.EndpointSpec, len(stages))
	endpointRules.apply(d, len(stages), topLayer, layers, func(i int, s core.EndpointSpec) {
		fillPlanThrottles(&s.Gateway)
		specs[i] = s
		stages[i].Endpoint = s
	})
	// A kind written wrong is reported already; the kind that stood in for
	// it says nothing about the blocks.
	kindBroken := func(l *endpointLayer) bool { return l != nil && l.broken["kind"] }
	anyBroken := kindBroken(topLayer)
	for i, b := range blocks {
		if b == nil || i >= len(stages) {
			continue
		}
		if _, own := b.layer.values["kind"]; kindBroken(b.layer) || (!own && kindBroken(topLayer)) {
			anyBroken = true
			continue
		}
		for _, blk := range []struct {
			kind string
			e    *entry
		}{{core.EndpointGateway, b.gateway}, {core.EndpointBalancer, b.balancer}} {
			if blk.e == nil || specs[i].Kind == blk.kind {
				continue
			}
			d.addf(posOf(blk.e.keyN), "%s is for kind %s, and the stage's endpoint kind is %s%s; remove the block, or set %s.kind: %s",
				blk.e.path, blk.kind, specs[i].Kind, kindOrigin(topLayer, b.layer), b.layer.path, blk.kind)
		}
	}
	if top == nil || anyBroken {
		return
	}
	for _, blk := range []struct {
		kind string
		e    *entry
	}{{core.EndpointGateway, top.gateway}, {core.EndpointBalancer, top.balancer}} {
		if blk.e == nil || slices.ContainsFunc(specs, func(s core.EndpointSpec) bool { return s.Kind == blk.kind }) {
			continue
		}
		note := fmt.Sprintf("the default kind is %s", core.DefaultEndpoint().Kind)
		if v, ok := topLayer.values["kind"]; ok {
			note = fmt.Sprintf("endpoint.kind is %s, line %d", rawText(v.node), posOf(v.node).line)
		}
		d.addf(posOf(blk.e.keyN), "%s is for kind %s, and no stage's endpoint kind is %s (%s); remove the block, or set endpoint.kind: %s",
			blk.e.path, blk.kind, blk.kind, note, blk.kind)
	}
}

// kindOrigin says where a stage's endpoint kind comes from, when not from
// the stage's own block: " (inherited from endpoint.kind, line 3)" or
// " (the default)".
func kindOrigin(top, stage *endpointLayer) string {
	if _, ok := stage.values["kind"]; ok {
		return ""
	}
	if top != nil {
		if v, ok := top.values["kind"]; ok {
			return fmt.Sprintf(" (inherited from %s.kind, line %d)", top.path, posOf(v.node).line)
		}
	}
	return " (the default)"
}

// fillPlanThrottles gives a usage plan that leaves out rate or burst the
// stage's: a key never gets more than the stage allows anyway, and a zero
// would read as "nothing allowed".
func fillPlanThrottles(g *core.GatewaySpec) {
	if len(g.UsagePlans) == 0 {
		return
	}
	plans := maps.Clone(g.UsagePlans)
	for name, p := range plans {
		if p.Throttle.Rate == 0 {
			p.Throttle.Rate = g.Throttle.Rate
		}
		if p.Throttle.Burst == 0 {
			p.Throttle.Burst = g.Throttle.Burst
		}
		plans[name] = p
	}
	g.UsagePlans = plans
}

// rate reads a token bucket's rate: requests per second, more than 0 and
// at most API Gateway's account default.
func (d *decoder) rate(e entry) (float64, bool) {
	allowed := fmt.Sprintf("allowed: more than 0, at most %d (requests per second)", MaxRate)
	r, ok := d.number(e, allowed)
	if !ok {
		return 0, false
	}
	if r <= 0 || r > MaxRate || math.IsNaN(r) {
		d.addf(posOf(e.value), "invalid %s %s: out of range; %s", e.path, rawText(e.value), allowed)
		return 0, false
	}
	return r, true
}

// burst reads a token bucket's size: 1 to API Gateway's account default.
func (d *decoder) burst(e entry) (int, bool) {
	allowed := fmt.Sprintf("allowed: 1-%d (requests at once)", MaxBurst)
	n, ok := d.integer(e, allowed)
	if !ok {
		return 0, false
	}
	if n < 1 || n > MaxBurst {
		d.addf(posOf(e.value), "invalid %s %d: out of range; %s", e.path, n, allowed)
		return 0, false
	}
	return int(n), true
}

// sizeRE is a size as written: a number of bytes, KB or MB (1024-based,
// as API Gateway's 10 MB payload limit is).
var sizeRE = regexp.MustCompile(`^([0-9]+) ?(B|KB|MB)?$`)

// byteSize reads endpoint.gateway.max_body: bytes, or a string with KB or
// MB, within MinMaxBody and MaxMaxBody.
func (d *decoder) byteSize(e entry) (int64, bool) {
	const allowed = "allowed: 1MB to 10MB (1MB is 1048576 bytes)"
	v, ok := d.resolve(e.value)
	if !ok {
		return 0, false
	}
	const hint = "write bytes, or a number with KB or MB, like \"10MB\"; " + allowed
	var n int64
	text := rawText(v)
	if _, isInt := v.(*ast.IntegerNode); isInt {
		if n, ok = d.integer(e, allowed); !ok {
			return 0, false
		}
	} else {
		s, ok := d.str(e, hint)
		if !ok {
			return 0, false
		}
		text = strconv.Quote(s)
		m := sizeRE.FindStringSubmatch(strings.ToUpper(s))
		if m == nil {
			d.addf(posOf(e.value), "invalid %s %q: not a size; %s", e.path, s, hint)
			return 0, false
		}
		x, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || x > 1<<40 {
			x = math.MaxInt64 >> 20 // out of range below
		}
		n = x * map[string]int64{"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20}[m[2]]
	}
	if n < MinMaxBody || n > MaxMaxBody {
		d.addf(posOf(e.value), "invalid %s %s: out of range; %s", e.path, text, allowed)
		return 0, false
	}
	return n, true
}
