package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// routeKeys are the keys of an item of a stage's routes.
var routeKeys = []string{"path", "stack", "stage", "strip"}

const (
	routeHint     = "write a route as \"- {path: /api, stage: prod}\""
	routePathHint = "use a path prefix like \"/api\""
)

// routes reads a stage's routes. A route to a stage of this stack (no
// stack, or the stack's own name) is checked against the stage names, once
// they are all known: stages is nil when the stages key had problems, and
// the check is then skipped rather than wrong.
func (d *decoder) routes(e entry, from, stack string, stages []string) ([]core.Route, bool) {
	items, ok := d.sequence(e, "routes", routeHint)
	if !ok {
		return nil, false
	}
	var out []core.Route
	seen := map[string]pos{}
	good := true
	for i, it := range items {
		where := fmt.Sprintf("%s[%d]", e.path, i)
		r, ok := d.route(entry{path: where, keyN: it.dash, value: it.node}, e.path, seen, from, stack, stages)
		good = good && ok
		out = append(out, r)
	}
	return out, good
}

// route reads one route of the list at path list; seen holds the paths
// routed so far, from is the stage the route belongs to.
func (d *decoder) route(e entry, list string, seen map[string]pos, from, stack string, stages []string) (core.Route, bool) {
	var r core.Route
	m, ok := d.mapping(e, "route settings ("+allowedList(routeKeys)+"); "+routeHint)
	if !ok {
		return r, false
	}
	good := true
	var stageE *entry // nil unless the stage is a valid name
	hasPath, hasStage := false, false
	for _, f := range d.fields(m, e.path, e.path+".", routeKeys, nil) {
		switch f.key {
		case "path":
			hasPath = true
			p, ok := d.urlPath(f, routePathHint)
			if ok && strings.ContainsAny(p, "?") {
				d.addf(posOf(f.value), "invalid %s %q: a route matches a path prefix, without a query; %s", f.path, p, routePathHint)
				ok = false
			}
			if ok {
				if first, dup := seen[p]; dup {
					d.addf(posOf(f.value), "duplicate route path %q in %s: already routed at line %d; each path may be routed once per stage", p, list, first.line)
					ok = false
				} else {
					seen[p] = posOf(f.value)
				}
			}
			good = good && ok
			r.Path = p
		case "stack":
			s, ok := d.str(f, "use a stack name like \"my-api\"; leave it out for this stack")
			if ok {
				if err := core.ValidateStackName(s); err != nil {
					d.addf(posOf(f.value), "%s: %s", f.path, oneLine(err.Error()))
					ok = false
				}
			}
			good = good && ok
			r.Stack = s
		case "stage":
			hasStage = true
			s, ok := d.str(f, "use a stage name like \"prod\"")
			if ok {
				if err := core.ValidateStageName(s); err != nil {
					d.addf(posOf(f.value), "%s: %s", f.path, oneLine(err.Error()))
					ok = false
				}
			}
			if ok {
				stageE = &f
			}
			good = good && ok
			r.Stage = s
		case "strip":
			b, ok := d.boolean(f)
			good = good && ok
			r.Strip = b
		}
	}
	if !hasPath {
		d.addLatef(posOf(m, e.value), "%s.path is required; %s", e.path, routeHint)
		good = false
	}
	if !hasStage {
		d.addLatef(posOf(m, e.value), "%s.stage is required; %s", e.path, routeHint)
	}
	if stageE == nil {
		return r, false
	}
	if r.Stack != "" && r.Stack != stack {
		return r, good // another stack's stages are only known on the server
	}
	r.Stack = "" // this stack, however written: one spelling for consumers
	switch {
	case r.Stage == from:
		d.addf(posOf(stageE.value), "%s %q is the route's own stage: the route would loop; name another stage, or add stack: to route to another stack", stageE.path, r.Stage)
		good = false
	case stages != nil && !slices.Contains(stages, r.Stage):
		d.addf(posOf(stageE.value), "%s %q is not a stage of this stack; its stages: %s%s; add stack: to route to another stack",
			stageE.path, r.Stage, allowedList(stages), didYouMean(r.Stage, stages))
		good = false
	}
	return r, good
}
