package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/slipwayhq/slipway/internal/core"
)

// This file walks the goccy/go-yaml AST rather than decoding into structs:
// only the AST keeps the line and column of every key and value, which is
// what strict, pointed error messages need.

// maxAliasDepth bounds alias and merge-key chains, which YAML lets refer to
// themselves (a: &x [*x]); real files never come close.
const maxAliasDepth = 16

// maxMergedKeys bounds the keys merge keys may bring in, over a document.
const maxMergedKeys = 10000

// decoder collects problems while the typed parsers walk one document.
type decoder struct {
	file     string // as given by the caller; prefixes every message
	base     string // file's base name, used as the top level's "where"
	anchors  []anchorDef
	problems []Problem
	warnings []Problem // ignored, unsupported keys (buildspecs only)

	merges    int  // keys brought in by merge keys so far
	mergeBomb bool // the merge budget was exceeded, and said so
}

type anchorDef struct {
	name   string
	offset int
	value  ast.Node
}

// entry is one key of a mapping, with the dotted path used in messages.
type entry struct {
	key   string
	path  string // e.g. "healthcheck.path", "stages[1].env"
	keyN  ast.Node
	value ast.Node // unresolved: may be an anchor, alias or tag
}

// pos is a 1-based line and column.
type pos struct{ line, col int }

var docStart = pos{1, 1}

func newDecoder(file, fallback string) *decoder {
	if file == "" {
		file = fallback
	}
	return &decoder{file: file, base: filepath.Base(file)}
}

// document parses data and returns the body of its only document, or nil
// when the file holds no document (empty, or only comments). ok is false
// when a problem was recorded.
func (d *decoder) document(data []byte) (body ast.Node, ok bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	f, err := parseYAML(data)
	if err != nil {
		d.syntaxError(err)
		return nil, false
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, directive := doc.Body.(*ast.DirectiveNode); directive {
			continue
		}
		bodies = append(bodies, doc.Body)
	}
	if len(bodies) == 0 {
		return nil, true
	}
	if len(bodies) > 1 {
		d.addf(posOf(bodies[1]), "a second YAML document (after '---') is not allowed; keep one document per file")
		return nil, false
	}
	d.collectAnchors(bodies[0], 0)
	return bodies[0], true
}

// parseYAML guards against panics in the YAML library: a crash on hostile
// input must become an error like any other.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("unreadable YAML (%v)", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

var bigIntRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

var duplicateKeyRE = regexp.MustCompile(`^mapping key "(.*)" already defined at \[(\d+):(\d+)\]$`)

func (d *decoder) syntaxError(err error) {
	at := docStart
	msg := err.Error()
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		msg = yerr.GetMessage()
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > 0 {
			at = pos{tk.Position.Line, max(tk.Position.Column, 1)}
		}
	}
	if m := duplicateKeyRE.FindStringSubmatch(msg); m != nil {
		d.addf(at, "duplicate key %q: already defined at line %s, column %s; each key may appear once", m[1], m[2], m[3])
		return
	}
	d.addf(at, "invalid YAML: %s", oneLine(msg))
}

func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > 1000 {
		return
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		if tk := v.GetToken(); tk != nil && tk.Position != nil {
			d.anchors = append(d.anchors, anchorDef{name: nameOf(v.Name), offset: tk.Position.Offset, value: v.Value})
		}
		d.collectAnchors(v.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.collectAnchors(mv.Key, depth+1)
			d.collectAnchors(mv.Value, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(v.Key, depth+1)
		d.collectAnchors(v.Value, depth+1)
	case *ast.MappingKeyNode:
		d.collectAnchors(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			d.collectAnchors(x, depth+1)
		}
	case *ast.TagNode:
		d.collectAnchors(v.Value, depth+1)
	}
}

func nameOf(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return ""
	case *ast.StringNode:
		return v.Value
	default:
		return n.String()
	}
}

// anchor finds the value an alias refers to: the latest anchor of that name
// defined before the alias, as YAML says.
func (d *decoder) anchor(a *ast.AliasNode) ast.Node {
	name := nameOf(a.Value)
	at := -1
	if tk := a.GetToken(); tk != nil && tk.Position != nil {
		at = tk.Position.Offset
	}
	var found ast.Node
	for _, def := range d.anchors {
		if def.name == name && def.offset < at {
			found = def.value
		}
	}
	return found
}

// addf records a problem at p.
func (d *decoder) addf(p pos, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: p.line, Col: p.col, Message: printable(fmt.Sprintf(format, args...))})
}

// addLatef records a problem that is reported after all positioned ones.
func (d *decoder) addLatef(p pos, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: p.line, Col: p.col, Message: printable(fmt.Sprintf(format, args...)), late: true})
}

// warnf records a warning at p: something the file may say but Slipway
// ignores.
func (d *decoder) warnf(p pos, format string, args ...any) {
	d.warnings = append(d.warnings, Problem{Line: p.line, Col: p.col, Message: printable(fmt.Sprintf(format, args...))})
}

// warningLines renders the warnings in position order, one
// "file:line:col: message" line each, or nil when there are none.
func (d *decoder) warningLines() []string {
	var out []string
	for _, w := range sortProblems(d.warnings) {
		out = append(out, fmt.Sprintf("%s:%d:%d: %s", d.file, w.Line, w.Col, w.Message))
	}
	return out
}

// err turns the collected problems into the package's error, or nil.
func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	e := &Error{File: d.file, Problems: sortProblems(d.problems)}
	return core.Wrap(core.CodeInvalid, e, "%s", e.Error())
}

// posOf returns the position of the first node that has one, or 1:1. A
// missing value ("port:" with nothing after) sits past the end of its line,
// so a null is only used when no other node has a position: the key or the
// "- " of a missing value is where a reader looks.
func posOf(nodes ...ast.Node) pos {
	for _, nullsToo := range []bool{false, true} {
		for _, n := range nodes {
			if _, null := n.(*ast.NullNode); null && !nullsToo {
				continue
			}
			if p, ok := nodePos(n); ok {
				return p
			}
		}
	}
	return docStart
}

func nodePos(n ast.Node) (pos, bool) {
	switch v := n.(type) {
	case nil:
		return pos{}, false
	case *ast.DocumentNode:
		if v.Body == nil {
			return pos{}, false
		}
		return nodePos(v.Body)
	case *ast.MappingNode:
		// A block mapping's own token is its first ':'; its first key is
		// where a reader sees it start.
		if len(v.Values) > 0 {
			return nodePos(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return pos{}, false
	}
	return pos{tk.Position.Line, max(tk.Position.Column, 1)}, true
}

// resolve follows anchors, aliases and type tags to the node that holds the
// value. A "!!str" tag is kept (scalar readers honour it). ok is false when
// a problem was recorded.
func (d *decoder) resolve(n ast.Node) (ast.Node, bool) {
	for range maxAliasDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			target := d.anchor(v)
			if target == nil {
				d.addf(posOf(v), "unknown alias *%s: no anchor &%s is defined before it", nameOf(v.Value), nameOf(v.Value))
				return nil, false
			}
			n = target
		case *ast.TagNode:
			tag := ""
			if tk := v.GetToken(); tk != nil {
				tag = tk.Value
			}
			switch tag {
			case "!!str", "tag:yaml.org,2002:str":
				return v, true
			case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
				n = v.Value
			default:
				d.addf(posOf(v), "YAML tag %s is not supported; remove it (allowed tags: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)", tag)
				return nil, false
			}
		default:
			return n, true
		}
	}
	d.addf(posOf(n), "aliases nest more than %d deep (an alias may refer to itself); expand them by hand", maxAliasDepth)
	return nil, false
}

// kind describes a resolved node for "got ..." in messages, with its value
// when it is a scalar.
func kind(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "no value"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("a string: %q", v.Value)
	case *ast.LiteralNode:
		return fmt.Sprintf("a string: %q", literalValue(v))
	case *ast.TagNode:
		return fmt.Sprintf("a string: %q", rawText(v.Value))
	case *ast.IntegerNode:
		return "an integer: " + rawText(v)
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number: " + rawText(v)
	case *ast.BoolNode:
		return "a bool: " + rawText(v)
	default:
		return "a " + strings.ToLower(n.Type().String())
	}
}

// rawText is a scalar as written in the file, without quotes.
func rawText(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return ""
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		return literalValue(v)
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.String()
}

func literalValue(n *ast.LiteralNode) string {
	if n.Value == nil {
		return ""
	}
	return n.Value.Value
}

// fields reads a mapping whose allowed keys are known. where names it in
// messages ("slipway.yml", "healthcheck", "stages[0]"); prefix is the path
// its keys get ("", "healthcheck.", "stages[0]."). Keys in unsupported are
// part of the AWS format but not implemented by Slipway: they are warnings,
// and their values are ignored (only checked to be well-formed YAML). Any
// other key is an error. Only entries with allowed keys are returned, in
// file order.
func (d *decoder) fields(n ast.Node, where, prefix string, allowed, unsupported []string) []entry {
	return d.keyed(n, where, prefix, allowed, unsupported, nil)
}

// fieldsElsewhere is fields for a mapping where some keys of slipway.yml
// are misplaced rather than unknown: elsewhere maps each to where it goes.
func (d *decoder) fieldsElsewhere(n ast.Node, where, prefix string, allowed []string, elsewhere map[string]string) []entry {
	return d.keyed(n, where, prefix, allowed, nil, elsewhere)
}

func (d *decoder) keyed(n ast.Node, where, prefix string, allowed, unsupported []string, elsewhere map[string]string) []entry {
	var out []entry
	for _, e := range d.entries(n, prefix, 0) {
		switch {
		case slices.Contains(allowed, e.key):
			out = append(out, e)
		case slices.Contains(unsupported, e.key):
			d.warnf(posOf(e.keyN), "%s is not supported by Slipway and is ignored", e.path)
			d.checkAliases(e.value, 0)
		case elsewhere[e.key] != "":
			d.addf(posOf(e.keyN), "key %q does not belong in %s; %s", e.key, where, elsewhere[e.key])
		default:
			d.addf(posOf(e.keyN), "unknown key %q in %s; allowed keys: %s%s", e.key, where, allowedList(allowed), didYouMean(e.key, allowed))
		}
	}
	return out
}

// checkAliases checks that every alias in an ignored value refers to an
// anchor defined before it, as YAML requires; the YAML library does not.
// Aliases are not followed, so the walk is linear in the file's size.
func (d *decoder) checkAliases(n ast.Node, depth int) {
	if n == nil || depth > 1000 {
		return
	}
	switch v := n.(type) {
	case *ast.AliasNode:
		if d.anchor(v) == nil {
			d.addf(posOf(v), "unknown alias *%s: no anchor &%s is defined before it", nameOf(v.Value), nameOf(v.Value))
		}
	case *ast.AnchorNode:
		d.checkAliases(v.Value, depth+1)
	case *ast.TagNode:
		d.checkAliases(v.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.checkAliases(mv, depth+1)
		}
	case *ast.MappingValueNode:
		d.checkAliases(v.Key, depth+1)
		d.checkAliases(v.Value, depth+1)
	case *ast.MappingKeyNode:
		d.checkAliases(v.Value, depth+1)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			d.checkAliases(x, depth+1)
		}
	}
}

// entries lists a mapping's keys and values, expanding merge keys ("<<").
// Keys written in the mapping win over merged ones, as YAML says.
func (d *decoder) entries(n ast.Node, prefix string, depth int) []entry {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return nil
	}
	if depth > 0 {
		// Merged mappings may themselves merge lists of aliases: without a
		// budget, a few lines expand like a billion-laughs bomb.
		d.merges += len(m.Values)
		if d.merges > maxMergedKeys {
			if !d.mergeBomb {
				d.mergeBomb = true
				d.addf(posOf(n), "merge keys (<<) expand to more than %d keys; expand them by hand", maxMergedKeys)
			}
			return nil
		}
	}
	keys := make([]string, len(m.Values))
	valid := make([]bool, len(m.Values))
	seen := map[string]bool{}
	for i, mv := range m.Values {
		if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
			continue
		}
		keys[i], valid[i] = d.keyText(mv.Key)
		if valid[i] {
			seen[keys[i]] = true
		}
	}
	var out []entry
	for i, mv := range m.Values {
		if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
			for _, e := range d.merged(mv.Value, prefix, depth) {
				if !seen[e.key] {
					seen[e.key] = true
					out = append(out, e)
				}
			}
			continue
		}
		if valid[i] {
			out = append(out, entry{key: keys[i], path: prefix + keys[i], keyN: mv.Key, value: mv.Value})
		}
	}
	return out
}

func (d *decoder) merged(v ast.Node, prefix string, depth int) []entry {
	if depth >= maxAliasDepth {
		d.addf(posOf(v), "merge keys (<<) nest more than %d deep (a merge may refer to itself); expand them by hand", maxAliasDepth)
		return nil
	}
	r, ok := d.resolve(v)
	if !ok {
		return nil
	}
	switch r := r.(type) {
	case *ast.MappingNode:
		return d.entries(r, prefix, depth+1)
	case *ast.SequenceNode:
		var out []entry
		seen := map[string]bool{}
		for _, item := range r.Values {
			ri, ok := d.resolve(item)
			if !ok {
				continue
			}
			if _, isMap := ri.(*ast.MappingNode); !isMap {
				d.addf(posOf(item, v), "merge key (<<) needs a mapping or a list of mappings, got %s", kind(ri))
				continue
			}
			for _, e := range d.entries(ri, prefix, depth+1) {
				if !seen[e.key] { // earlier mappings in the list win
					seen[e.key] = true
					out = append(out, e)
				}
			}
		}
		return out
	default:
		d.addf(posOf(v), "merge key (<<) needs a mapping or a list of mappings, got %s", kind(r))
		return nil
	}
}

func (d *decoder) keyText(k ast.Node) (string, bool) {
	if mk, ok := k.(*ast.MappingKeyNode); ok { // "? key" syntax
		k = mk.Value
	}
	r, ok := d.resolve(k)
	if !ok {
		return "", false
	}
	switch r.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		d.addf(posOf(k), "a key must be a plain name, got %s", kind(r))
		return "", false
	}
	return rawText(r), true
}

// mapping resolves e's value and checks that it is a mapping. what says
// what the mapping should hold, for the message.
func (d *decoder) mapping(e entry, what string) (ast.Node, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return nil, false
	}
	if _, isMap := v.(*ast.MappingNode); !isMap {
		d.addf(posOf(e.value, e.keyN), "%s must be a mapping of %s, got %s", e.path, what, kind(v))
		return nil, false
	}
	return v, true
}

// item is one entry of a list, with the node of its "- " (when the list is
// a block list) to point at when the value itself is missing.
type item struct {
	node ast.Node
	dash ast.Node
}

// sequence resolves e's value and returns the items of a list. hint, when
// not empty, says how to write the list.
func (d *decoder) sequence(e entry, what, hint string) ([]item, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return nil, false
	}
	s, isSeq := v.(*ast.SequenceNode)
	if !isSeq {
		if hint != "" {
			hint = "; " + hint
		}
		d.addf(posOf(e.value, e.keyN), "%s must be a list of %s, got %s%s", e.path, what, kind(v), hint)
		return nil, false
	}
	items := make([]item, len(s.Values))
	for i, n := range s.Values {
		items[i] = item{node: n, dash: n}
		if len(s.Entries) == len(s.Values) && s.Entries[i] != nil {
			items[i].dash = s.Entries[i]
		}
	}
	return items, true
}

// str reads a string value. Numbers and bools are refused: a name or a
// path that YAML read as a number is a mistake worth pointing at.
func (d *decoder) str(e entry, hint string) (string, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return literalValue(v), true
	case *ast.TagNode: // !!str
		return rawText(v.Value), true
	}
	d.addf(posOf(e.value, e.keyN), "%s must be a string, got %s; %s", e.path, kind(v), hint)
	return "", false
}

// scalar reads a string, number or bool as written ("1.50" stays "1.50").
// Used for environment variables and versions, whose consumers want text.
// at are the nodes (key, "-") to point at when the value is missing.
func (d *decoder) scalar(n ast.Node, path string, at ...ast.Node) (string, bool) {
	v, ok := d.resolve(n)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode,
		*ast.InfinityNode, *ast.NanNode:
		return rawText(v), true
	case *ast.TagNode: // !!str
		return rawText(v.Value), true
	case nil, *ast.NullNode:
		d.addf(posOf(append([]ast.Node{n}, at...)...), "%s has no value; write \"\" for an empty string", path)
	default:
		d.addf(posOf(append([]ast.Node{n}, at...)...), "%s must be a string, number or bool, got %s; quote it if you meant a string", path, kind(v))
	}
	return "", false
}

// integer reads an integer value.
func (d *decoder) integer(e entry, hint string) (int64, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return 0, false
	}
	if in, isInt := v.(*ast.IntegerNode); isInt {
		switch x := in.Value.(type) {
		case int64:
			return x, true
		case uint64:
			if x <= 1<<62 {
				return int64(x), true
			}
		}
		d.addf(posOf(e.value, e.keyN), "%s is out of range: %s; %s", e.path, rawText(in), hint)
		return 0, false
	}
	if s, isStr := v.(*ast.StringNode); isStr && s.Token != nil && s.Token.Type == token.StringType && bigIntRE.MatchString(s.Value) {
		// The YAML library reads an integer too big for 64 bits as a string.
		d.addf(posOf(e.value, e.keyN), "%s is out of range: %s; %s", e.path, s.Value, hint)
		return 0, false
	}
	d.addf(posOf(e.value, e.keyN), "%s must be an integer, got %s; %s", e.path, kind(v), hint)
	return 0, false
}

// number reads an integer or a decimal number (a scale's cpu).
func (d *decoder) number(e entry, hint string) (float64, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return 0, false
	}
	switch v := v.(type) {
	case *ast.FloatNode:
		return v.Value, true
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	case *ast.InfinityNode, *ast.NanNode:
		d.addf(posOf(e.value, e.keyN), "invalid %s %s: not a finite number; %s", e.path, rawText(v), hint)
		return 0, false
	}
	d.addf(posOf(e.value, e.keyN), "%s must be a number, got %s; %s", e.path, kind(v), hint)
	return 0, false
}

// boolean reads true or false. YAML 1.1's yes, no, on and off are strings
// to the YAML library, so they are refused rather than guessed at.
func (d *decoder) boolean(e entry) (bool, bool) {
	v, ok := d.resolve(e.value)
	if !ok {
		return false, false
	}
	if b, isBool := v.(*ast.BoolNode); isBool {
		return b.Value, true
	}
	d.addf(posOf(e.value, e.keyN), "%s must be true or false, got %s", e.path, kind(v))
	return false, false
}

// stringMap reads a mapping of names to scalars, checking each name with
// keyOK. Used for stage env, buildspec variables and runtime versions.
func (d *decoder) stringMap(e entry, what string, keyOK func(string) bool, keyRule string) (map[string]string, bool) {
	m, ok := d.mapping(e, what)
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	good := true
	for _, kv := range d.entries(m, e.path+".", 0) {
		if !keyOK(kv.key) {
			d.addf(posOf(kv.keyN), "invalid %s name %q in %s; %s", strings.TrimSuffix(what, "s"), kv.key, e.path, keyRule)
			good = false
			continue
		}
		val, ok := d.scalar(kv.value, kv.path, kv.keyN)
		if !ok {
			good = false
			continue
		}
		out[kv.key] = val
	}
	return out, good
}
