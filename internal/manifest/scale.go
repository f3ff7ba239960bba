package manifest

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/slipwayhq/slipway/internal/core"
)

// Keys of a scale block (top level and per stage) and of its health check.
var (
	scaleKeys       = []string{"min", "max", "cpu", "memory", "cpu_target", "scale_out_cooldown", "scale_in_cooldown", "health", "stop_grace", "drain"}
	scaleHealthKeys = []string{"path", "interval", "timeout", "healthy", "unhealthy"}
)

// The rules of a scale spec live in core (core.ScaleSpec.Problems), which
// the API's scale command shares. The parser only reads types here, then
// merges defaults, the top-level block and the stage's block, and asks core
// what is wrong; each problem names the field at fault and the field it
// conflicts with, which is enough to point at the value the user wrote.

// scaleLayer is one scale block as written: the fields it sets ("memory",
// "health.timeout"), each with its value's node.
type scaleLayer struct {
	path   string // "scale", "stages[1].scale"
	keyN   ast.Node
	values map[string]scaleValue
	// broken fields were written with a wrong type and already reported;
	// a conflict involving one would be about a value nobody wrote.
	broken map[string]bool
}

type scaleValue struct {
	node ast.Node
	set  func(*core.ScaleSpec)
}

func (l *scaleLayer) put(field string, e entry, ok bool, set func(*core.ScaleSpec)) {
	if !ok {
		l.broken[field] = true
		return
	}
	l.values[field] = scaleValue{node: e.value, set: set}
}

// scale reads a scale block's types, not its rules: see applyScale.
func (d *decoder) scale(e entry) *scaleLayer {
	l := &scaleLayer{path: e.path, keyN: e.keyN, values: map[string]scaleValue{}, broken: map[string]bool{}}
	m, ok := d.mapping(e, "scale settings ("+allowedList(scaleKeys)+")")
	if !ok {
		return l
	}
	const (
		instances = "write a number of instances, like 2"
		megabytes = "write megabytes, like 1024"
		percent   = "write a percentage, like 75"
	)
	for _, f := range d.fields(m, e.path, e.path+".", scaleKeys, nil) {
		switch f.key {
		case "min":
			n, ok := d.count(f, instances)
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.Min = n })
		case "max":
			n, ok := d.count(f, instances)
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.Max = n })
		case "cpu":
			c, ok := d.number(f, "allowed: "+core.CPUList()+" (vCPU)")
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.CPU = c })
		case "memory":
			n, ok := d.count(f, megabytes)
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.MemoryMB = n })
		case "cpu_target":
			n, ok := d.count(f, percent)
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.CPUTarget = n })
		case "scale_out_cooldown":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.ScaleOutCooldown = core.Duration(t) })
		case "scale_in_cooldown":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.ScaleInCooldown = core.Duration(t) })
		case "health":
			d.scaleHealth(f, l)
		case "stop_grace":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.StopGrace = core.Duration(t) })
		case "drain":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ScaleSpec) { s.Drain = core.Duration(t) })
		}
	}
	return l
}

// scaleHealth reads scale.health; its keys merge one by one too.
func (d *decoder) scaleHealth(e entry, l *scaleLayer) {
	m, ok := d.mapping(e, "health check settings ("+allowedList(scaleHealthKeys)+")")
	if !ok {
		return
	}
	const checks = "write a number of checks in a row, like 2"
	for _, f := range d.fields(m, e.path, e.path+".", scaleHealthKeys, nil) {
		field := "health." + f.key
		switch f.key {
		case "path":
			p, ok := d.urlPath(f)
			l.put(field, f, ok, func(s *core.ScaleSpec) { s.Health.Path = p })
		case "interval":
			t, _, ok := d.anyDuration(f, "")
			l.put(field, f, ok, func(s *core.ScaleSpec) { s.Health.Interval = core.Duration(t) })
		case "timeout":
			t, _, ok := d.anyDuration(f, "")
			l.put(field, f, ok, func(s *core.ScaleSpec) { s.Health.Timeout = core.Duration(t) })
		case "healthy":
			n, ok := d.count(f, checks)
			l.put(field, f, ok, func(s *core.ScaleSpec) { s.Health.Healthy = n })
		case "unhealthy":
			n, ok := d.count(f, checks)
			l.put(field, f, ok, func(s *core.ScaleSpec) { s.Health.Unhealthy = n })
		}
	}
}

// count reads an integer that fits an int; its range is core's business.
func (d *decoder) count(e entry, hint string) (int, bool) {
	n, ok := d.integer(e, hint)
	if !ok {
		return 0, false
	}
	if int64(int(n)) != n { // only on 32-bit platforms
		d.addf(posOf(e.value, e.keyN), "%s is out of range: %d; %s", e.path, n, hint)
		return 0, false
	}
	return int(n), true
}

// applyScale gives every stage a complete scale spec: core's defaults, then
// the top-level block, then the stage's own, key by key. stageScales holds
// the stages' blocks in order (nil entries for stages without one); it may
// be longer than stages when the stages key had problems, and its blocks
// are checked all the same.
func (d *decoder) applyScale(stages []core.StageSpec, top *scaleLayer, stageScales []*scaleLayer) {
	// Check the top-level block on its own too, so a bad value there is
	// reported even when every stage overrides it. Only single-field rules:
	// "memory: 4096" at the top is fine if every stage sets a cpu it fits.
	d.scaleFor(top, nil, false)
	if len(stageScales) == 0 {
		stageScales = make([]*scaleLayer, len(stages)) // the default stage
	}
	for i, l := range stageScales {
		s := d.scaleFor(top, l, true)
		if i < len(stages) {
			stages[i].Scale = s
		}
	}
}

// scaleFor merges the layers over core's defaults and reports what core
// finds wrong with the result; identical reports from several stages
// inheriting the same value collapse into one (sortProblems).
func (d *decoder) scaleFor(top, stage *scaleLayer, conflicts bool) core.ScaleSpec {
	var layers []*scaleLayer
	for _, l := range []*scaleLayer{top, stage} {
		if l != nil {
			layers = append(layers, l)
		}
	}
	s := core.DefaultScale()
	for _, l := range layers {
		for _, v := range l.values {
			v.set(&s)
		}
	}
	for _, p := range s.Problems() {
		if p.Related != "" && !conflicts {
			continue
		}
		if brokenIn(layers, p.Field) || (p.Related != "" && brokenIn(layers, p.Related)) {
			continue
		}
		d.scaleProblem(p, layers)
	}
	return s
}

func brokenIn(layers []*scaleLayer, field string) bool {
	for _, l := range layers {
		if l.broken[field] {
			return true
		}
	}
	return false
}

// scaleProblem reports p at the value to blame: the field at fault if the
// stage set it, else the field it conflicts with if the stage set that,
// else the same two in the top-level block. Fields that come from
// elsewhere than the block pointed at are named in a note, e.g.
// "(memory is inherited from scale, line 3)".
func (d *decoder) scaleProblem(p core.ScaleProblem, layers []*scaleLayer) {
	fields := []string{p.Field}
	if p.Related != "" {
		fields = append(fields, p.Related)
	}
	var at *scaleLayer
	var node ast.Node
	for i := len(layers) - 1; i >= 0 && at == nil; i-- {
		for _, f := range fields {
			if v, ok := layers[i].values[f]; ok {
				at, node = layers[i], v.node
				break
			}
		}
	}
	if at == nil {
		// Only core's defaults are involved, which core keeps valid; point
		// at the innermost scale key rather than nowhere.
		if len(layers) == 0 {
			d.addf(docStart, "scale %s", p)
			return
		}
		at = layers[len(layers)-1]
		node = at.keyN
	}
	var notes []string
	for _, f := range fields {
		from := origin(layers, f)
		switch {
		case from == at:
		case from == nil:
			notes = append(notes, fmt.Sprintf("%s is the default", f))
		default:
			notes = append(notes, fmt.Sprintf("%s is inherited from %s, line %d", f, from.path, posOf(from.values[f].node).line))
		}
	}
	msg := at.path + "." + p.String()
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	d.addf(posOf(node, at.keyN), "%s", msg)
}

// origin is the innermost layer that sets field, or nil for core's default.
func origin(layers []*scaleLayer, field string) *scaleLayer {
	for i := len(layers) - 1; i >= 0; i-- {
		if _, ok := layers[i].values[field]; ok {
			return layers[i]
		}
	}
	return nil
}
