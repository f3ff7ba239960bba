package manifest

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/slipwayhq/slipway/internal/core"
)

// gateway reads endpoint.gateway. Its keys and throttle's merge one by
// one; a usage plan, jwt and cors are each replaced whole (endpoint.go).
func (d *decoder) gateway(e entry, l *endpointLayer) {
	m, ok := d.mapping(e, "gateway settings ("+allowedList(gatewayKeys)+")")
	if !ok {
		return
	}
	for _, f := range d.fields(m, e.path, e.path+".", gatewayKeys, nil) {
		field := "gateway." + f.key
		switch f.key {
		case "api_keys":
			v, ok := d.oneOf(f, apiKeyModes)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Gateway.APIKeys = v })
		case "usage_plans":
			d.usagePlans(f, l)
		case "jwt":
			j, ok := d.jwt(f)
			l.put(field, f, ok, func(s *core.EndpointSpec) {
				c := *j
				c.Audiences = slices.Clone(j.Audiences)
				s.Gateway.JWT = &c // scopes are never written to, and may be shared
			})
		case "cors":
			c, ok := d.cors(f)
			l.put(field, f, ok, func(s *core.EndpointSpec) {
				cc := *c
				s.Gateway.CORS = &cc
			})
		case "throttle":
			d.throttle(f, l)
		case "timeout":
			t, ok := d.duration(f, MinGatewayTimeout, MaxGatewayTimeout)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Gateway.Timeout = core.Duration(t) })
		case "max_body":
			n, ok := d.byteSize(f)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Gateway.MaxBody = n })
		}
	}
}

// throttle reads endpoint.gateway.throttle, the stage's token bucket; its
// keys merge one by one.
func (d *decoder) throttle(e entry, l *endpointLayer) {
	m, ok := d.mapping(e, "throttle settings ("+allowedList(throttleKeys)+")")
	if !ok {
		return
	}
	for _, f := range d.fields(m, e.path, e.path+".", throttleKeys, nil) {
		field := "gateway.throttle." + f.key
		switch f.key {
		case "rate":
			r, ok := d.rate(f)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Gateway.Throttle.Rate = r })
		case "burst":
			n, ok := d.burst(f)
			l.put(field, f, ok, func(s *core.EndpointSpec) { s.Gateway.Throttle.Burst = n })
		}
	}
}

// usagePlans reads endpoint.gateway.usage_plans: plans by name, each one
// layer value, so that a stage adds plans to the top level's and replaces
// those of the same name.
func (d *decoder) usagePlans(e entry, l *endpointLayer) {
	m, ok := d.mapping(e, "usage plans by name, like \"gold: {rate: 100, burst: 200}\"")
	if !ok {
		return
	}
	for _, kv := range d.entries(m, e.path+".", 0) {
		field := "gateway.usage_plans." + kv.key
		if !usagePlanNameRE.MatchString(kv.key) {
			d.addf(posOf(kv.keyN), "invalid usage plan name %q in %s; %s", kv.key, e.path, usagePlanNameRule)
			l.put(field, kv, false, nil)
			continue
		}
		p, ok := d.usagePlan(kv)
		name := kv.key
		l.put(field, kv, ok, func(s *core.EndpointSpec) {
			if s.Gateway.UsagePlans == nil {
				s.Gateway.UsagePlans = map[string]core.UsagePlan{}
			}
			s.Gateway.UsagePlans[name] = p
		})
	}
}

// usagePlan reads one plan. A rate or burst left out is the stage's
// throttle's (fillPlanThrottles); a quota needs both its keys.
func (d *decoder) usagePlan(e entry) (core.UsagePlan, bool) {
	var p core.UsagePlan
	m, ok := d.mapping(e, "usage plan settings ("+allowedList(usagePlanKeys)+")")
	if !ok {
		return p, false
	}
	good := true
	for _, f := range d.fields(m, e.path, e.path+".", usagePlanKeys, nil) {
		switch f.key {
		case "rate":
			r, ok := d.rate(f)
			good = good && ok
			p.Throttle.Rate = r
		case "burst":
			n, ok := d.burst(f)
			good = good && ok
			p.Throttle.Burst = n
		case "quota":
			q, ok := d.quota(f)
			good = good && ok
			p.Quota = q
		}
	}
	return p, good
}

func (d *decoder) quota(e entry) (*core.Quota, bool) {
	m, ok := d.mapping(e, "quota settings ("+allowedList(quotaKeys)+"), like \"{limit: 10000, period: month}\"")
	if !ok {
		return nil, false
	}
	q := &core.Quota{}
	good, hasLimit, hasPeriod := true, false, false
	for _, f := range d.fields(m, e.path, e.path+".", quotaKeys, nil) {
		switch f.key {
		case "limit":
			hasLimit = true
			const allowed = "allowed: 1 or more (requests per period)"
			n, ok := d.integer(f, allowed)
			if ok && n < 1 {
				d.addf(posOf(f.value), "invalid %s %d: out of range; %s", f.path, n, allowed)
				ok = false
			}
			good = good && ok
			q.Limit = n
		case "period":
			hasPeriod = true
			v, ok := d.oneOf(f, quotaPeriods)
			good = good && ok
			q.Period = v
		}
	}
	if !hasLimit {
		d.addLatef(posOf(m, e.value), "%s.limit is required; write the requests allowed per period, like 10000", e.path)
		good = false
	}
	if !hasPeriod {
		d.addLatef(posOf(m, e.value), "%s.period is required; allowed: %s", e.path, allowedList(quotaPeriods))
		good = false
	}
	return q, good
}

// jwt reads endpoint.gateway.jwt, a JWT authorizer: issuer, audiences and
// jwks_url are required.
func (d *decoder) jwt(e entry) (*core.JWTSpec, bool) {
	m, ok := d.mapping(e, "JWT authorizer settings ("+allowedList(jwtKeys)+")")
	if !ok {
		return nil, false
	}
	j := &core.JWTSpec{}
	good := true
	seen := map[string]bool{}
	for _, f := range d.fields(m, e.path, e.path+".", jwtKeys, nil) {
		seen[f.key] = true
		switch f.key {
		case "issuer":
			u, ok := d.httpsURL(f, "https://auth.example.com/")
			good = good && ok
			j.Issuer = u
		case "audiences":
			a, ok := d.stringList(f, "audiences", "write the accepted aud values, like [\"my-api\"]", func(f entry, s string) bool {
				if s == "" {
					d.addf(posOf(f.value, f.keyN), "%s is empty; write an aud value, like \"my-api\"", f.path)
					return false
				}
				return true
			})
			if ok && len(a) == 0 {
				d.addf(posOf(f.value, f.keyN), "%s is empty; list at least one accepted aud value, like [\"my-api\"]", f.path)
				ok = false
			}
			good = good && ok
			j.Audiences = a
		case "jwks_url":
			u, ok := d.httpsURL(f, "https://auth.example.com/.well-known/jwks.json")
			good = good && ok
			j.JWKSURL = u
		case "scopes":
			sc, ok := d.scopes(f)
			good = good && ok
			j.Scopes = sc
		}
	}
	for _, k := range []string{"issuer", "audiences", "jwks_url"} {
		if !seen[k] {
			d.addLatef(posOf(m, e.value), "%s.%s is required; a JWT authorizer needs issuer, audiences and jwks_url", e.path, k)
			good = false
		}
	}
	return j, good
}

// scopeRE is RFC 6749's scope-token.
var scopeRE = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// scopes reads jwt.scopes: the scopes a token needs, by path prefix. An
// empty list is allowed: no scope needed under that prefix, whatever a
// shorter prefix asks.
func (d *decoder) scopes(e entry) (map[string][]string, bool) {
	m, ok := d.mapping(e, "scopes by path prefix, like \"/admin: [admin]\"")
	if !ok {
		return nil, false
	}
	out := map[string][]string{}
	good := true
	for _, kv := range d.entries(m, e.path+".", 0) {
		if !strings.HasPrefix(kv.key, "/") || strings.ContainsFunc(kv.key, unicode.IsSpace) {
			d.addf(posOf(kv.keyN), "invalid path prefix %q in %s: it must start with '/' and have no spaces; write scopes by path, like \"/admin: [admin]\"", kv.key, e.path)
			good = false
			continue
		}
		kv.path = fmt.Sprintf("%s[%q]", e.path, kv.key) // "/admin" reads badly after a dot
		list, ok := d.stringList(kv, "scopes", "write the scopes a token needs, like [admin]", func(f entry, s string) bool {
			if !scopeRE.MatchString(s) {
				d.addf(posOf(f.value, f.keyN), "invalid %s %q: a scope is one word of printable characters, without spaces, '\"' or '\\'", f.path, s)
				return false
			}
			return true
		})
		good = good && ok
		if list == nil {
			list = []string{}
		}
		out[kv.key] = list
	}
	return out, good
}

// Header names are RFC 9110 tokens.
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// cors reads endpoint.gateway.cors, with API Gateway's keys.
func (d *decoder) cors(e entry) (*core.CORSSpec, bool) {
	m, ok := d.mapping(e, "CORS settings ("+allowedList(corsKeys)+")")
	if !ok {
		return nil, false
	}
	c := &core.CORSSpec{}
	good, hasOrigins := true, false
	var credentials, star *entry
	header := func(f entry, s string) bool {
		if s != "*" && !headerNameRE.MatchString(s) {
			d.addf(posOf(f.value, f.keyN), "invalid %s %q: not a header name; write names like \"Content-Type\", or \"*\"", f.path, s)
			return false
		}
		return true
	}
	for _, f := range d.fields(m, e.path, e.path+".", corsKeys, nil) {
		switch f.key {
		case "allow_origins":
			hasOrigins = true
			o, ok := d.stringList(f, "origins", "write origins like [\"https://app.example.com\"], or [\"*\"]", func(f entry, s string) bool {
				if s == "*" {
					star = &f
					return true
				}
				return d.origin(f, s)
			})
			if ok && len(o) == 0 {
				d.addf(posOf(f.value, f.keyN), "%s is empty; list at least one origin, like \"https://app.example.com\", or \"*\"", f.path)
				ok = false
			}
			good = good && ok
			c.AllowOrigins = o
		case "allow_methods":
			v, ok := d.stringList(f, "methods", "write methods like [GET, POST], or [\"*\"]", func(f entry, s string) bool {
				if !slices.Contains(corsMethods, s) {
					d.addf(posOf(f.value, f.keyN), "invalid %s %q; allowed: %s%s", f.path, s, allowedList(corsMethods), didYouMean(s, corsMethods))
					return false
				}
				return true
			})
			good = good && ok
			c.AllowMethods = v
		case "allow_headers":
			v, ok := d.stringList(f, "header names", "write header names like [Content-Type, Authorization], or [\"*\"]", header)
			good = good && ok
			c.AllowHeaders = v
		case "expose_headers":
			v, ok := d.stringList(f, "header names", "write header names like [X-Request-Id], or [\"*\"]", header)
			good = good && ok
			c.ExposeHeaders = v
		case "max_age":
			t, ok := d.seconds(f, 0, MaxCORSMaxAge, true, "0s to 24h, in whole seconds")
			good = good && ok
			c.MaxAge = core.Duration(t)
		case "allow_credentials":
			b, ok := d.boolean(f)
			good = good && ok
			c.AllowCredentials = b
			if b {
				credentials = &f
			}
		}
	}
	if !hasOrigins {
		d.addLatef(posOf(m, e.value), "%s.allow_origins is required; list the origins allowed, like [\"https://app.example.com\"], or [\"*\"]", e.path)
		good = false
	}
	if credentials != nil && star != nil {
		d.addf(posOf(star.value, star.keyN), "%s \"*\" is not allowed with allow_credentials: true (line %d): browsers refuse credentials from any origin; list the origins instead",
			star.path, posOf(credentials.value).line)
		good = false
	}
	return c, good
}

// origin checks a CORS origin: scheme://host[:port], as browsers send it in
// the Origin header, lower case, with no path.
func (d *decoder) origin(e entry, s string) bool {
	const hint = "write \"*\" or scheme://host[:port], like \"https://app.example.com\" or \"http://localhost:3000\""
	u, err := url.Parse(s)
	why := ""
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		why = "not an origin"
	case u.Scheme != "http" && u.Scheme != "https":
		why = "the scheme must be http or https"
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		why = "an origin has no path, query or user"
	case u.Path == "/":
		why = "an origin has no trailing '/'"
	case s != strings.ToLower(s):
		why = "browsers send origins in lower case"
	case u.Port() != "" && !validPort(u.Port()):
		why = "invalid port"
	default:
		return true
	}
	d.addf(posOf(e.value, e.keyN), "invalid %s %q: %s; %s", e.path, s, why, hint)
	return false
}

func validPort(p string) bool {
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' || n > MaxPort {
			return false
		}
		n = n*10 + int(r-'0')
	}
	return n >= MinPort && n <= MaxPort
}

// httpsURL reads an https URL. Plain http is only allowed to a loopback
// host, for tests against a local identity provider.
func (d *decoder) httpsURL(e entry, example string) (string, bool) {
	hint := fmt.Sprintf("write an https URL, like %q", example)
	s, ok := d.str(e, hint)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	why := ""
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		why = "not an absolute URL with a host"
	case u.User != nil:
		why = "credentials do not belong in it"
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		why = "a fragment does not belong in it"
	case u.Scheme == "https":
		return s, true
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return s, true
	case u.Scheme == "http":
		why = "plain http is only allowed for localhost"
	default:
		why = "the scheme must be https (http only for localhost)"
	}
	d.addf(posOf(e.value), "invalid %s %q: %s; %s", e.path, s, why, hint)
	return "", false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stringList reads a list of strings, checking each with ok, which reports
// its own problem.
func (d *decoder) stringList(e entry, what, hint string, ok func(entry, string) bool) ([]string, bool) {
	items, good := d.sequence(e, what, hint)
	if !good {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		f := entry{path: fmt.Sprintf("%s[%d]", e.path, i), keyN: it.dash, value: it.node}
		s, isStr := d.str(f, hint)
		if !isStr || !ok(f, s) {
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}
