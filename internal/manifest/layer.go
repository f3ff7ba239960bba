package manifest

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/slipwayhq/slipway/internal/core"
)

// Scale and serverless settings are layered the same way: core's defaults,
// then the top-level block, then the stage's own, key by key. The rules
// live in core (ScaleSpec.Problems, ServerlessSpec.Problems), which the API
// shares; the parser only reads types, merges the layers and asks core what
// is wrong. Each problem names the field at fault and the field it
// conflicts with, which is enough to point at the value the user wrote.

// layer is one block of settings as written: the fields it sets
// ("memory", "health.timeout"), each with its value's node.
type layer[T any] struct {
	path   string // "scale", "stages[1].serverless"
	keyN   ast.Node
	values map[string]layerValue[T]
	// broken fields were written with a wrong type and already reported;
	// a conflict involving one would be about a value nobody wrote.
	broken map[string]bool
}

type layerValue[T any] struct {
	node ast.Node
	set  func(*T)
}

func newLayer[T any](e entry) *layer[T] {
	return &layer[T]{path: e.path, keyN: e.keyN, values: map[string]layerValue[T]{}, broken: map[string]bool{}}
}

func (l *layer[T]) put(field string, e entry, ok bool, set func(*T)) {
	if !ok {
		l.broken[field] = true
		return
	}
	l.values[field] = layerValue[T]{node: e.value, set: set}
}

// rules is what a layered spec needs from core: its defaults and its
// problems. block names the block in messages ("scale", "serverless").
type rules[T any] struct {
	block    string
	defaults func() T
	problems func(T) []core.ScaleProblem
}

// apply gives every stage a complete spec: the defaults, then top, then the
// stage's own block. stageLayers holds the stages' blocks in order (nil for
// stages without one); it may be longer than the stages when the stages key
// had problems, and its blocks are checked all the same. set stores stage
// i's spec.
func (r rules[T]) apply(d *decoder, n int, top *layer[T], stageLayers []*layer[T], set func(i int, s T)) {
	// Check the top-level block on its own too, so a bad value there is
	// reported even when every stage overrides it. Only single-field rules:
	// "memory: 4096" at the top is fine if every stage sets a cpu it fits.
	r.merge(d, top, nil, false)
	if len(stageLayers) == 0 {
		stageLayers = make([]*layer[T], n) // the default stage
	}
	for i, l := range stageLayers {
		s := r.merge(d, top, l, true)
		if i < n {
			set(i, s)
		}
	}
}

// merge merges the layers over the defaults and reports what core finds
// wrong with the result; identical reports from several stages inheriting
// the same value collapse into one (sortProblems).
func (r rules[T]) merge(d *decoder, top, stage *layer[T], conflicts bool) T {
	var layers []*layer[T]
	for _, l := range []*layer[T]{top, stage} {
		if l != nil {
			layers = append(layers, l)
		}
	}
	s := r.defaults()
	for _, l := range layers {
		for _, v := range l.values {
			v.set(&s)
		}
	}
	for _, p := range r.problems(s) {
		if p.Related != "" && !conflicts {
			continue
		}
		if brokenIn(layers, p.Field) || (p.Related != "" && brokenIn(layers, p.Related)) {
			continue
		}
		r.report(d, p, layers)
	}
	return s
}

func brokenIn[T any](layers []*layer[T], field string) bool {
	for _, l := range layers {
		if l.broken[field] {
			return true
		}
	}
	return false
}

// report puts p at the value to blame: the field at fault if the stage set
// it, else the field it conflicts with if the stage set that, else the same
// two in the top-level block. Fields that come from elsewhere than the block
// pointed at are named in a note, e.g. "(memory is inherited from scale,
// line 3)".
func (r rules[T]) report(d *decoder, p core.ScaleProblem, layers []*layer[T]) {
	fields := []string{p.Field}
	if p.Related != "" {
		fields = append(fields, p.Related)
	}
	var at *layer[T]
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
		// at the innermost block's key rather than nowhere.
		if len(layers) == 0 {
			d.addf(docStart, "%s %s", r.block, p)
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

// origin is the innermost layer that sets field, or nil for the default.
func origin[T any](layers []*layer[T], field string) *layer[T] {
	for i := len(layers) - 1; i >= 0; i-- {
		if _, ok := layers[i].values[field]; ok {
			return layers[i]
		}
	}
	return nil
}
