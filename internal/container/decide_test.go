package container

import (
	"reflect"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
)

func ct(id, stack, stage, rel string, running bool) engine.Container {
	return engine.Container{ID: id, Running: running, State: map[bool]string{true: "running", false: "exited"}[running],
		Labels: map[string]string{core.LabelStack: stack, core.LabelStage: stage, core.LabelRelease: rel}}
}

func desired() Desired {
	return Desired{
		Stacks:     map[string][]string{"hello": {"dev", "prod"}, "api": {"dev"}},
		Serving:    map[StageKey]string{{"hello", "dev"}: "r3", {"hello", "prod"}: "r2"},
		RollingOut: map[StageKey]string{{"hello", "dev"}: "r4", {"hello", "staging"}: "r5"},
	}
}

func TestClassify(t *testing.T) {
	d := desired()
	cases := []struct {
		name string
		c    engine.Container
		want Verdict
	}{
		{"serving release", ct("a", "hello", "dev", "r3", true), Keep},
		{"release rolling out", ct("b", "hello", "dev", "r4", true), Keep},
		{"superseded release", ct("c", "hello", "dev", "r1", true), Retire},
		{"other stage's release", ct("d", "hello", "prod", "r3", true), Retire},
		{"deleted stack", ct("e", "gone", "dev", "r1", true), Orphan},
		{"deleted stage", ct("f", "hello", "staging", "r3", true), Orphan},
		{"stack without a release yet", ct("g", "api", "dev", "r1", true), Retire},
		{"rollout to a stage new in this release", ct("h", "hello", "staging", "r5", true), Keep},
	}
	for _, tc := range cases {
		if got := Classify(d, tc.c); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMissing(t *testing.T) {
	d := desired()
	d.Serving[StageKey{"gone", "dev"}] = "r9" // stale row of a deleted stack
	observed := []engine.Container{
		ct("a", "hello", "dev", "r1", true),   // old release does not count
		ct("b", "hello", "prod", "r2", false), // exited does not count
	}
	// hello/dev is rolling out, so the rollout owns it.
	if got, want := Missing(d, observed), []StageKey{{"hello", "prod"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	restarting := ct("c", "hello", "prod", "r2", false)
	restarting.State = "restarting"
	if got := Missing(d, append(observed, restarting)); len(got) != 0 {
		t.Fatalf("a restarting instance is live; got %v", got)
	}
}

func TestRoutes(t *testing.T) {
	d := desired()
	instances := []core.Instance{
		{ID: "b", Stack: "hello", Stage: "dev", Release: "r3", Addr: "10.0.0.2:8000", Healthy: true},
		{ID: "a", Stack: "hello", Stage: "dev", Release: "r3", Addr: "10.0.0.1:8000", Healthy: true},
		{ID: "c", Stack: "hello", Stage: "dev", Release: "r4", Addr: "10.0.0.3:8000", Healthy: true},   // not serving yet
		{ID: "d", Stack: "hello", Stage: "prod", Release: "r2", Addr: "10.0.0.4:8000", Healthy: false}, // unhealthy
	}
	got := Routes("localhost", d, instances)
	want := []gateway.Route{
		{Host: "dev.api.localhost", Stack: "api", Stage: "dev"},
		{Host: "dev.hello.localhost", Stack: "hello", Stage: "dev", Backends: []gateway.Backend{{ID: "a", Addr: "10.0.0.1:8000"}, {ID: "b", Addr: "10.0.0.2:8000"}}},
		{Host: "prod.hello.localhost", Stack: "hello", Stage: "prod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestInstanceEnv(t *testing.T) {
	rel := core.Release{Stage: "dev", Spec: core.StackSpec{Port: 8000, Stages: []core.StageSpec{
		{Name: "dev", Env: map[string]string{"B": "2", "A": "1"}}, {Name: "prod", Env: map[string]string{"C": "3"}},
	}}}
	if got, want := instanceEnv(rel), []string{"PORT=8000", "A=1", "B=2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDead(t *testing.T) {
	d := desired()
	stopped := ct("x", "hello", "prod", "r2", false)
	// Kept while it is the stage's only instance.
	if got := Dead(d, []engine.Container{stopped}); len(got) != 0 {
		t.Fatalf("dead with no replacement: %v", got)
	}
	// Retired once a replacement runs.
	got := Dead(d, []engine.Container{stopped, ct("y", "hello", "prod", "r2", true)})
	if len(got) != 1 || got[0].ID != "x" {
		t.Fatalf("got %v", got)
	}
	// A restarting instance is not dead.
	restarting := ct("z", "hello", "prod", "r2", false)
	restarting.State = "restarting"
	if got := Dead(d, []engine.Container{restarting, ct("y", "hello", "prod", "r2", true)}); len(got) != 0 {
		t.Fatalf("restarting counted dead: %v", got)
	}
}
