package source

import (
	"fmt"
	"sort"
	"strings"
)

// ZeroSHA stands for "no commit": Push.Old of a created ref, Push.New of a
// deleted one.
const ZeroSHA = "0000000000000000000000000000000000000000"

// Push is one ref changed by a push.
type Push struct {
	Stack  string
	Ref    string // full name: refs/heads/main, refs/tags/v1
	Branch string // short name for refs/heads/*, "" otherwise
	Old    string // commit before the push; ZeroSHA if the ref is new
	New    string // commit after the push; ZeroSHA if the ref was deleted
}

// refValue is what a ref points at: the object it names and, for an
// annotated tag, the commit that object peels to.
type refValue struct {
	object string
	commit string
}

// refSet maps full ref names to their values.
type refSet map[string]refValue

// refFormat is the for-each-ref format parseRefs reads: "%(*objectname)" is
// empty unless the ref names an annotated tag.
const refFormat = "%(objectname) %(*objectname) %(refname)"

// parseRefs reads `git for-each-ref --format=<refFormat>` output.
func parseRefs(out string) (refSet, error) {
	refs := refSet{}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		switch len(f) {
		case 2:
			refs[f[1]] = refValue{object: f[0], commit: f[0]}
		case 3:
			refs[f[2]] = refValue{object: f[0], commit: f[1]}
		default:
			return nil, fmt.Errorf("parse ref line %q", line)
		}
	}
	return refs, nil
}

// diffRefs returns one Push per ref that differs between before and after,
// sorted by ref name so callers see a stable order.
func diffRefs(stack string, before, after refSet) []Push {
	var pushes []Push
	add := func(ref, old, new string) {
		branch, _ := strings.CutPrefix(ref, "refs/heads/")
		if branch == ref {
			branch = ""
		}
		pushes = append(pushes, Push{Stack: stack, Ref: ref, Branch: branch, Old: old, New: new})
	}
	for ref, a := range after {
		b, ok := before[ref]
		switch {
		case !ok:
			add(ref, ZeroSHA, a.commit)
		case b.object != a.object:
			add(ref, b.commit, a.commit)
		}
	}
	for ref, b := range before {
		if _, ok := after[ref]; !ok {
			add(ref, b.commit, ZeroSHA)
		}
	}
	sort.Slice(pushes, func(i, j int) bool { return pushes[i].Ref < pushes[j].Ref })
	return pushes
}
