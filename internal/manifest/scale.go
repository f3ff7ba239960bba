package manifest

import (
	"github.com/slipwayhq/slipway/internal/core"
)

// Keys of a scale block (top level and per stage) and of its health check.
var (
	scaleKeys       = []string{"min", "max", "cpu", "memory", "cpu_target", "scale_out_cooldown", "scale_in_cooldown", "health", "stop_grace", "drain"}
	scaleHealthKeys = []string{"path", "interval", "timeout", "healthy", "unhealthy"}
)

// scaleLayer is a scale block as written; see layer.go for the layering.
type scaleLayer = layer[core.ScaleSpec]

var scaleRules = rules[core.ScaleSpec]{block: "scale", defaults: core.DefaultScale, problems: core.ScaleSpec.Problems}

// scale reads a scale block's types, not its rules: see layer.go.
func (d *decoder) scale(e entry) *scaleLayer {
	l := newLayer[core.ScaleSpec](e)
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
			p, ok := d.urlPath(f, healthPathHint)
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
