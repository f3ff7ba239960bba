package reconcile

import (
	"reflect"
	"sort"
	"testing"
	"time"
)

var (
	t0  = time.Unix(1_000_000, 0)
	dev = Key{"hello", "dev"}
)

func inst(id, rel string, age int, mods ...func(*Instance)) Instance {
	in := Instance{ID: id, Key: dev, Release: rel, Created: t0.Add(time.Duration(age) * time.Second), Running: true, Healthy: true}
	for _, m := range mods {
		m(&in)
	}
	return in
}

func starting(in *Instance) { in.Healthy = false }
func failed(in *Instance)   { in.Healthy, in.Failed = false, true }
func exited(at time.Time, crashes int) func(*Instance) {
	return func(in *Instance) {
		in.Running, in.Healthy, in.Exited, in.RestartAt, in.Crashes = false, false, true, at, crashes
	}
}

func stops(p Plan) []string {
	var out []string
	for _, s := range p.Stop {
		d := ""
		if s.Drain {
			d = "+drain"
		}
		out = append(out, s.ID+d)
	}
	sort.Strings(out)
	return out
}

func TestCompute(t *testing.T) {
	now := t0.Add(time.Hour)
	cases := []struct {
		name    string
		stage   Stage
		insts   []Instance
		start   []Start
		restart []string
		stop    []string
		routes  []string
		ready   bool
		abort   string
	}{
		{name: "not deployed", stage: Stage{Key: dev, Count: 1}, routes: []string{}},
		{name: "first instances", stage: Stage{Key: dev, Serving: "r1", Count: 3},
			insts: []Instance{inst("a", "r1", 1)},
			start: []Start{{dev, "r1", 2}}, routes: []string{"a"}},
		{name: "steady", stage: Stage{Key: dev, Serving: "r1", Count: 2},
			insts:  []Instance{inst("a", "r1", 1), inst("b", "r1", 2)},
			routes: []string{"a", "b"}},
		{name: "not yet healthy is not routed", stage: Stage{Key: dev, Serving: "r1", Count: 2},
			insts:  []Instance{inst("a", "r1", 1), inst("b", "r1", 2, starting)},
			routes: []string{"a"}},
		{name: "failed health is replaced", stage: Stage{Key: dev, Serving: "r1", Count: 2},
			insts: []Instance{inst("a", "r1", 1), inst("b", "r1", 2, failed)},
			start: []Start{{dev, "r1", 1}}, stop: []string{"b"}, routes: []string{"a"}},
		{name: "crashed waits for its backoff", stage: Stage{Key: dev, Serving: "r1", Count: 1},
			insts:  []Instance{inst("a", "r1", 1, exited(now.Add(time.Second), 2))},
			routes: []string{}},
		{name: "crashed restarts after its backoff", stage: Stage{Key: dev, Serving: "r1", Count: 1},
			insts:   []Instance{inst("a", "r1", 1, exited(now, 2))},
			restart: []string{"a"}, routes: []string{}},
		{name: "scale in stops the newest, with drain", stage: Stage{Key: dev, Serving: "r1", Count: 1},
			insts: []Instance{inst("a", "r1", 1), inst("b", "r1", 2), inst("c", "r1", 3)},
			stop:  []string{"b+drain", "c+drain"}, routes: []string{"a", "b", "c"}},
		{name: "scale in prefers exited and unhealthy", stage: Stage{Key: dev, Serving: "r1", Count: 1},
			insts: []Instance{inst("a", "r1", 1, exited(now, 1)), inst("b", "r1", 2), inst("c", "r1", 3, starting)},
			stop:  []string{"a", "c"}, routes: []string{"b"}},
		{name: "rollout surges to the count", stage: Stage{Key: dev, Serving: "r1", Target: "r2", Count: 2},
			insts: []Instance{inst("a", "r1", 1), inst("b", "r1", 2), inst("c", "r2", 3, starting)},
			start: []Start{{dev, "r2", 1}}, routes: []string{"a", "b"}},
		{name: "rollout ready when all new are healthy", stage: Stage{Key: dev, Serving: "r1", Target: "r2", Count: 2},
			insts:  []Instance{inst("a", "r1", 1), inst("b", "r1", 2), inst("c", "r2", 3), inst("d", "r2", 4)},
			routes: []string{"a", "b"}, ready: true},
		{name: "after the swap the old release drains", stage: Stage{Key: dev, Serving: "r2", Count: 2},
			insts: []Instance{inst("a", "r1", 1), inst("b", "r1", 2), inst("c", "r2", 3), inst("d", "r2", 4)},
			stop:  []string{"a+drain", "b+drain"}, routes: []string{"c", "d"}},
		{name: "rollout aborts on failed health", stage: Stage{Key: dev, Serving: "r1", Target: "r2", Count: 1},
			insts: []Instance{inst("a", "r1", 1), inst("c", "r2", 3, failed)},
			stop:  []string{"c"}, routes: []string{"a"}, abort: "a new instance failed its health checks"},
		{name: "rollout aborts after three exits", stage: Stage{Key: dev, Serving: "r1", Target: "r2", Count: 1},
			insts: []Instance{inst("a", "r1", 1), inst("c", "r2", 3, exited(now, 3))},
			stop:  []string{"c"}, routes: []string{"a"}, abort: "a new instance exited 3 times"},
		{name: "rollout retries an exit below the limit", stage: Stage{Key: dev, Serving: "r1", Target: "r2", Count: 1},
			insts:   []Instance{inst("a", "r1", 1), inst("c", "r2", 3, exited(now, 2))},
			restart: []string{"c"}, routes: []string{"a"}},
		{name: "first rollout of a stage", stage: Stage{Key: dev, Target: "r1", Count: 2},
			start: []Start{{dev, "r1", 2}}, routes: []string{}},
		{name: "scale to zero", stage: Stage{Key: dev, Serving: "r1", Count: 0},
			insts: []Instance{inst("a", "r1", 1)}, stop: []string{"a+drain"}, routes: []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Compute([]Stage{tc.stage}, tc.insts, now)
			if !reflect.DeepEqual(p.Start, tc.start) {
				t.Errorf("start %v, want %v", p.Start, tc.start)
			}
			if !reflect.DeepEqual(p.Restart, tc.restart) {
				t.Errorf("restart %v, want %v", p.Restart, tc.restart)
			}
			if got := stops(p); !reflect.DeepEqual(got, tc.stop) {
				t.Errorf("stop %v, want %v", got, tc.stop)
			}
			if got := p.Routes[dev]; !reflect.DeepEqual(got, tc.routes) {
				t.Errorf("routes %v, want %v", got, tc.routes)
			}
			if got := len(p.Ready) == 1; got != tc.ready {
				t.Errorf("ready %v, want %v", p.Ready, tc.ready)
			}
			abort := ""
			if len(p.Abort) == 1 {
				abort = p.Abort[0].Reason
			}
			if abort != tc.abort {
				t.Errorf("abort %q, want %q", abort, tc.abort)
			}
		})
	}
}

func TestComputeOrphans(t *testing.T) {
	gone := Instance{ID: "x", Key: Key{"gone", "dev"}, Release: "r1", Running: true, Healthy: true}
	p := Compute([]Stage{{Key: dev, Serving: "r1", Count: 1}}, []Instance{gone, inst("a", "r1", 1)}, t0)
	if got := stops(p); !reflect.DeepEqual(got, []string{"x"}) {
		t.Fatalf("stops %v", got)
	}
	if _, routed := p.Routes[gone.Key]; routed {
		t.Fatal("a deleted stage got routes")
	}
}
