package manifest

import (
	"errors"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestScaleInheritedProblemReportedOnce: a bad top-level value is checked
// for every stage that inherits it, and reported once, at the value.
func TestScaleInheritedProblemReportedOnce(t *testing.T) {
	src := "name: a\nscale:\n  cpu: 3\n  cpu_target: 0\nstages:\n  - name: dev\n  - name: qa\n  - name: prod\n    scale: {cpu_target: 50}\n"
	_, err := Parse("slipway.yml", []byte(src))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := []Problem{
		{Line: 3, Col: 8, Message: "scale.cpu 3 is not a Fargate size; allowed: 0.25, 0.5, 1, 2, 4"},
		{Line: 4, Col: 15, Message: "scale.cpu_target 0 is out of range; allowed: 1-100 (percent)"},
	}
	if len(e.Problems) != len(want) {
		t.Fatalf("problems = %+v, want %+v", e.Problems, want)
	}
	for i := range want {
		if got := e.Problems[i]; got.Line != want[i].Line || got.Col != want[i].Col || got.Message != want[i].Message {
			t.Errorf("problem %d = %+v, want %+v", i, got, want[i])
		}
	}
}

// TestScaleDefaultsEverywhere: stages that set nothing get core's defaults,
// so consumers never see zeros.
func TestScaleDefaultsEverywhere(t *testing.T) {
	for _, src := range []string{
		"name: a\n",
		"name: a\nstages:\n  - name: dev\n  - name: prod\n",
		"name: a\nscale: {}\nstages:\n  - name: dev\n    scale: {health: {}}\n",
	} {
		spec, err := Parse("slipway.yml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		for _, st := range spec.Stages {
			if st.Scale != core.DefaultScale() {
				t.Errorf("%q: stage %s scale = %+v, want the defaults", src, st.Name, st.Scale)
			}
			if !st.Network.EgressAllowed() || st.Network.Attach != "" {
				t.Errorf("%q: stage %s network = %+v, want the defaults", src, st.Name, st.Network)
			}
		}
	}
}

// TestScaleBrokenValueHidesConflicts: a value already reported as mistyped
// does not also produce a conflict about the default that stood in for it.
func TestScaleBrokenValueHidesConflicts(t *testing.T) {
	_, err := Parse("slipway.yml", []byte("name: a\nscale:\n  cpu: \"1\"\n  memory: 4096\n"))
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Line != 3 {
		t.Fatalf("err = %v, want only the cpu type problem at line 3", err)
	}
}
