package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Problem is one thing wrong in a manifest, at a 1-based line and column.
type Problem struct {
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`

	// late problems (a required key is missing) are reported after the
	// positioned ones: a typo such as "nmae" explains a missing "name"
	// better than the missing name explains itself.
	late bool
}

// Error lists every problem found in one file, first by position. Its
// message is a single line: the first problem, prefixed with file:line:col,
// and how many more there are. Parse and ParseBuildspec return it wrapped in
// a core error with core.CodeInvalid; use errors.As to get the positions.
type Error struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.File + ": invalid"
	}
	p := e.Problems[0]
	msg := fmt.Sprintf("%s:%d:%d: %s", e.File, p.Line, p.Col, p.Message)
	switch n := len(e.Problems) - 1; {
	case n == 1:
		msg += " (and 1 more problem)"
	case n > 1:
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return msg
}

// sortProblems orders problems by position, late ones last, and drops exact
// duplicates (an alias used twice reports its anchor's problems twice; a
// top-level scale value is checked once for every stage that inherits it).
func sortProblems(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.late != b.late {
			if a.late {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	type key struct {
		line, col int
		msg       string
	}
	seen := map[key]bool{}
	return slices.DeleteFunc(ps, func(p Problem) bool {
		k := key{p.Line, p.Col, p.Message}
		dup := seen[k]
		seen[k] = true
		return dup
	})
}

// oneLine makes sure a message taken from elsewhere (the YAML library, core)
// cannot break the one-line promise.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// printable escapes control characters (a newline in an anchor name, a key
// or a value quoted with %s), so that every message stays on one line.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// allowedList renders a set of allowed keys or values for a message.
func allowedList(allowed []string) string { return strings.Join(allowed, ", ") }

// didYouMean returns ` (did you mean "x"?)` when got is a near miss of one
// of the candidates, or "". Case is ignored, so "Port" suggests "port".
func didYouMean(got string, candidates []string) string {
	if s := suggest(got, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// suggest picks the candidate closest to got, if it is close enough: one
// edit for short words, two for words of five runes or more. A swap of two
// neighbouring letters ("prot" for "port") counts as one edit.
func suggest(got string, candidates []string) string {
	g := strings.ToLower(got)
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(g, strings.ToLower(c))
		limit := 1
		if utf8.RuneCountInString(c) >= 5 {
			limit = 2
		}
		if d > limit || d >= utf8.RuneCountInString(c) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Keys are short; a long one is nobody's typo and should not cost
		// quadratic time on hostile input.
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
