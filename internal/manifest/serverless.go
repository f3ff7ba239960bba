package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/schedule"
)

// Keys and values of a serverless block (top level and per stage) and of
// its schedules. A top-level block takes every key but schedules, which
// invoke one stage.
var (
	serverlessKeys    = []string{"memory", "timeout", "concurrency", "max_instances", "min_instances", "idle", "freeze", "queue", "queue_timeout", "handler", "payload_version", "schedules"}
	serverlessTopKeys = slices.DeleteFunc(slices.Clone(serverlessKeys), func(k string) bool { return k == "schedules" })
	scheduleKeys      = []string{"expression", "path", "method", "body"}
	handlers          = []string{core.HandlerHTTP, core.HandlerLambda}
	payloadVersions   = []string{core.PayloadV2, core.PayloadV1}
	scheduleMethods   = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// Defaults of a schedule's request, for an http handler.
const (
	DefaultSchedulePath   = "/"
	DefaultScheduleMethod = "GET"
)

// schedulesElsewhere explains where schedules go when they are written in
// a block that is not a stage's serverless block.
var schedulesElsewhere = map[string]string{
	"schedules": "schedules invoke one stage: put them under that stage's serverless block (stages[].serverless.schedules)",
}

// serverlessLayer is a serverless block as written; see layer.go for the
// layering.
type serverlessLayer = layer[core.ServerlessSpec]

var serverlessRules = rules[core.ServerlessSpec]{block: "serverless", defaults: core.DefaultServerless, problems: core.ServerlessSpec.Problems}

// serverlessBlock is a serverless block's layer plus, for a stage's, the
// request keys written in its schedules: they mean nothing to a lambda
// handler, which is only known once the layers are merged.
type serverlessBlock struct {
	layer        *serverlessLayer
	scheduleHTTP []entry
}

// serverless reads a serverless block's types, not its rules: see
// layer.go. top is true for the top-level block, which has no schedules.
func (d *decoder) serverless(e entry, top bool) serverlessBlock {
	b := serverlessBlock{layer: newLayer[core.ServerlessSpec](e)}
	l := b.layer
	keys := serverlessKeys
	var elsewhere map[string]string
	if top {
		keys, elsewhere = serverlessTopKeys, schedulesElsewhere
	}
	m, ok := d.mapping(e, "serverless settings ("+allowedList(keys)+")")
	if !ok {
		return b
	}
	const (
		megabytes = "write megabytes, like 1024"
		requests  = "write a number of requests, like 10"
		instances = "write a number of instances, like 10"
	)
	for _, f := range d.fieldsElsewhere(m, e.path, e.path+".", keys, elsewhere) {
		switch f.key {
		case "memory":
			n, ok := d.count(f, megabytes)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.MemoryMB = n })
		case "timeout":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Timeout = core.Duration(t) })
		case "concurrency":
			n, ok := d.count(f, requests)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Concurrency = n })
		case "max_instances":
			n, ok := d.count(f, instances)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.MaxInstances = n })
		case "min_instances":
			n, ok := d.count(f, instances)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.MinInstances = n })
		case "idle":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Idle = core.Duration(t) })
		case "freeze":
			v, ok := d.boolean(f)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Freeze = v })
		case "queue":
			n, ok := d.count(f, requests)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Queue = n })
		case "queue_timeout":
			t, _, ok := d.anyDuration(f, "")
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.QueueTimeout = core.Duration(t) })
		case "handler":
			h, ok := d.oneOf(f, handlers)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Handler = h })
		case "payload_version":
			// Quoted or not: YAML reads an unquoted 2.0 as a number, and
			// the text as written is what matters ("2" is refused by core).
			v, ok := d.scalar(f.value, f.path, f.keyN)
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Payload = v })
		case "schedules":
			sc, http, ok := d.schedules(f)
			b.scheduleHTTP = http
			l.put(f.key, f, ok, func(s *core.ServerlessSpec) { s.Schedules = sc })
		}
	}
	return b
}

// schedules reads a stage's schedules. http holds the request keys (path,
// method, body) written; their defaults are filled in by applyServerless,
// for http handlers only.
func (d *decoder) schedules(e entry) (out []core.Schedule, http []entry, ok bool) {
	items, ok := d.sequence(e, "schedules", "write each schedule as \"- expression: rate(5 minutes)\"")
	if !ok {
		return nil, nil, false
	}
	good := true
	for i, it := range items {
		where := fmt.Sprintf("%s[%d]", e.path, i)
		sc, h, ok := d.schedule(entry{path: where, keyN: it.dash, value: it.node})
		good = good && ok
		out = append(out, sc)
		http = append(http, h...)
	}
	return out, http, good
}

func (d *decoder) schedule(e entry) (core.Schedule, []entry, bool) {
	var sc core.Schedule
	m, ok := d.mapping(e, "schedule settings ("+allowedList(scheduleKeys)+"); write a schedule as \"- expression: rate(5 minutes)\"")
	if !ok {
		return sc, nil, false
	}
	var http []entry
	good, hasExpr := true, false
	for _, f := range d.fields(m, e.path, e.path+".", scheduleKeys, nil) {
		switch f.key {
		case "expression":
			hasExpr = true
			x, ok := d.str(f, expressionHint)
			if ok {
				ok = d.expression(f, x)
			}
			good = good && ok
			sc.Expression = x
		case "path":
			http = append(http, f)
			p, ok := d.urlPath(f, "use a URL path like \"/jobs/nightly\"")
			good = good && ok
			sc.Path = p
		case "method":
			http = append(http, f)
			v, ok := d.oneOf(f, scheduleMethods)
			good = good && ok
			sc.Method = v
		case "body":
			http = append(http, f)
			v, ok := d.str(f, "write the request body as a string; quote JSON, or use a block (body: |)")
			good = good && ok
			sc.Body = v
		}
	}
	if !hasExpr {
		d.addLatef(posOf(m, e.value), "%s.expression is required; %s", e.path, expressionHint)
		good = false
	}
	return sc, http, good
}

const expressionHint = "write an EventBridge expression, like \"rate(5 minutes)\" or \"cron(0 12 * * ? *)\""

// expression checks an EventBridge schedule expression with the parser
// the scheduler uses, so that slipway.yml refuses what would never fire.
// The expression is kept as written.
func (d *decoder) expression(e entry, x string) bool {
	_, err := schedule.Parse(x)
	if err == nil {
		return true
	}
	why := err.Error()
	if serr, ok := errors.AsType[*schedule.Error](err); ok {
		why = serr.Reason
	}
	d.addf(posOf(e.value), "invalid %s %q: %s", e.path, x, oneLine(why))
	return false
}

// applyServerless gives every stage a complete serverless spec, as the
// scale blocks give a scale spec. Its schedules' requests get their
// defaults when the handler is http; with a lambda handler, which gets an
// EventBridge scheduled event, a request key written is refused rather
// than ignored.
func (d *decoder) applyServerless(stages []core.StageSpec, top *serverlessLayer, blocks []serverlessBlock) {
	layers := make([]*serverlessLayer, len(blocks))
	for i, b := range blocks {
		layers[i] = b.layer
	}
	serverlessRules.apply(d, len(stages), top, layers, func(i int, s core.ServerlessSpec) { stages[i].Serverless = s })
	for i, b := range blocks {
		if i >= len(stages) {
			break
		}
		s := &stages[i].Serverless
		if s.Handler == core.HandlerLambda {
			for _, f := range b.scheduleHTTP {
				d.addf(posOf(f.keyN), "%s is not used with handler lambda: a lambda handler gets an EventBridge scheduled event, not a request; remove it, or use handler http", f.path)
			}
			continue
		}
		s.Schedules = slices.Clone(s.Schedules)
		for j := range s.Schedules {
			sc := &s.Schedules[j]
			sc.Path = cmp.Or(sc.Path, DefaultSchedulePath)
			sc.Method = cmp.Or(sc.Method, DefaultScheduleMethod)
		}
	}
}
