package manifest

import (
	"reflect"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestServerlessDefaultsEverywhere: a serverless stage that sets nothing
// gets core's defaults; a container stage keeps a zero serverless spec.
func TestServerlessDefaultsEverywhere(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want core.ServerlessSpec
	}{
		{"name: a\narchitecture: serverless\n", core.DefaultServerless()},
		{"name: a\narchitecture: serverless\nstages:\n  - name: dev\n  - name: prod\n", core.DefaultServerless()},
		{"name: a\narchitecture: serverless\nserverless: {}\nstages:\n  - name: dev\n    serverless: {}\n", core.DefaultServerless()},
		{"name: a\n", core.ServerlessSpec{}},
		{"name: a\narchitecture: container\nstages:\n  - name: dev\n  - name: prod\n", core.ServerlessSpec{}},
	} {
		spec, err := Parse("slipway.yml", []byte(tc.src))
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		for _, st := range spec.Stages {
			if !reflect.DeepEqual(st.Serverless, tc.want) {
				t.Errorf("%q: stage %s serverless = %+v, want %+v", tc.src, st.Name, st.Serverless, tc.want)
			}
			if st.Scale != core.DefaultScale() {
				t.Errorf("%q: stage %s scale = %+v, want the defaults", tc.src, st.Name, st.Scale)
			}
		}
	}
}

// TestServerlessStagesDoNotShareSchedules: each stage's schedules are its
// own, and a stage without any has none, whatever its neighbours have.
func TestServerlessStagesDoNotShareSchedules(t *testing.T) {
	src := "name: a\narchitecture: serverless\nstages:\n  - name: dev\n    serverless:\n      schedules:\n        - expression: rate(5 minutes)\n  - name: prod\n"
	spec, err := Parse("slipway.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []core.Schedule{{Expression: "rate(5 minutes)", Path: DefaultSchedulePath, Method: DefaultScheduleMethod}}
	if got := spec.Stages[0].Serverless.Schedules; !reflect.DeepEqual(got, want) {
		t.Errorf("dev schedules = %+v, want %+v", got, want)
	}
	if got := spec.Stages[1].Serverless.Schedules; got != nil {
		t.Errorf("prod schedules = %+v, want none", got)
	}
}
