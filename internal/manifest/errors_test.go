package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSuggest(t *testing.T) {
	keys := []string{"name", "architecture", "port", "healthcheck", "build", "stages"}
	for _, tc := range []struct{ got, want string }{
		{"prot", "port"},    // transposition
		{"Port", "port"},    // case
		{"nmae", "name"},    // transposition
		{"stage", "stages"}, // missing letter
		{"helthcheck", "healthcheck"},
		{"architcture", "architecture"},
		{"biuld", "build"},
		{"env", ""}, // nothing close
		{"p", ""},   // too short to be a typo of anything
		{"image", ""},
	} {
		if got := suggest(tc.got, keys); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.got, got, tc.want)
		}
	}
	if got := suggest("pre-build", phaseOrder); got != "pre_build" {
		t.Errorf("suggest(pre-build) = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"port", "port", 0}, {"prot", "port", 1},
		{"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestErrorListsAllProblems: the message shows the first problem by
// position, required-key problems last, and *Error keeps them all.
func TestErrorListsAllProblems(t *testing.T) {
	_, err := Parse("app/slipway.yml", []byte("port: 0\nprot: 1\narchitecture: x\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error inside", err)
	}
	if e.File != "app/slipway.yml" {
		t.Errorf("File = %q", e.File)
	}
	var lines []int
	for _, p := range e.Problems {
		lines = append(lines, p.Line)
	}
	if len(lines) != 4 || lines[0] != 1 || lines[1] != 2 || lines[2] != 3 || !e.Problems[3].late {
		t.Errorf("problems = %+v, want lines 1, 2, 3 then the missing name", e.Problems)
	}
	want := "app/slipway.yml:1:7: invalid port 0; allowed: 1-65535 (and 3 more problems)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
}

func TestEmptyFilenameFallsBack(t *testing.T) {
	if _, err := Parse("", nil); err == nil || err.Error()[:12] != "slipway.yml:" {
		t.Errorf("Parse: %v", err)
	}
	if _, err := ParseBuildspec("", nil); err == nil || err.Error()[:14] != "buildspec.yml:" {
		t.Errorf("ParseBuildspec: %v", err)
	}
}

// TestMergeBomb: merge keys over lists of aliases nest like a
// billion-laughs bomb; the parser must refuse them quickly.
func TestMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: bomb\nx0: &l0 {A: x, B: y, C: z, D: w, E: v, F: u, G: t, H: s, I: r, J: q}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "x%d: &l%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("stages:\n  - name: dev\n    env: {<<: *l9}\n")
	start := time.Now()
	_, err := Parse("slipway.yml", []byte(b.String()))
	var e *Error
	if !errors.As(err, &e) || !slices.ContainsFunc(e.Problems, func(p Problem) bool {
		return strings.HasPrefix(p.Message, "merge keys (<<) expand to more than")
	}) {
		t.Errorf("err = %v, want the merge budget problem among others", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Parse took %s", d)
	}
}
