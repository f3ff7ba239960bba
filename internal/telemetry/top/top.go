package top

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Step is the metrics store's native resolution: the figures are over
// the last closed 10 s period.
const Step = 10 * time.Second

// lookback is how far back the latest point is looked for.
const lookback = time.Minute

// Point is one value of a metric: for the period starting at T.
type Point struct {
	T time.Time
	V float64
}

// Query returns a stage's points of a metric in [from, to) at the native
// resolution, oldest first (the metrics store's Query).
type Query func(stack, stage, metric string, from, to time.Time) []Point

// Lister lists the stacks with their stages (service.Service).
type Lister interface {
	List(ctx context.Context) ([]core.StackStatus, error)
	Status(ctx context.Context, name string) (core.StackStatus, error)
}

// Top answers the current figures.
type Top struct {
	Query  Query
	Stacks Lister
	Now    func() time.Time // time.Now if nil
}

// Snapshot returns every stage's figures (one stack's if stack is not
// "").
func (t *Top) Snapshot(ctx context.Context, stack string) (core.Top, error) {
	var stacks []core.StackStatus
	if stack != "" {
		st, err := t.Stacks.Status(ctx, stack)
		if err != nil {
			return core.Top{}, err
		}
		stacks = []core.StackStatus{st}
	} else {
		var err error
		if stacks, err = t.Stacks.List(ctx); err != nil {
			return core.Top{}, err
		}
	}
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	out := core.Top{Time: now.UTC(), Period: core.Duration(Step), Stages: []core.StageFigures{}}
	for _, st := range stacks {
		for _, sg := range st.Stages {
			f := Figures(st.Name, sg.Name, func(metric string) []Point {
				if t.Query == nil {
					return nil
				}
				return t.Query(st.Name, sg.Name, metric, now.Add(-lookback), now)
			})
			out.Stages = append(out.Stages, f)
		}
	}
	return out, nil
}

// Figures computes a stage's figures from its metrics' recent points
// (points returns them for a metric name, oldest first). The rates and
// p99 are the latest period with a requests point (a counter, so present
// while the stage has data): the p99 only if that period has one (no
// requests, no latency). CPU and instances are their latest points.
func Figures(stack, stage string, points func(metric string) []Point) core.StageFigures {
	f := core.StageFigures{Stack: stack, Stage: stage}
	reqs := points("requests")
	if len(reqs) > 0 {
		last := reqs[len(reqs)-1]
		f.RequestsPerS = last.V / Step.Seconds()
		if e, ok := at(points("errors"), last.T); ok {
			f.ErrorsPerS = e / Step.Seconds()
			if last.V > 0 {
				f.ErrorPercent = 100 * e / last.V
			}
		}
		if p, ok := at(points("p99_latency_ms"), last.T); ok {
			f.P99MS = &p
		}
	}
	f.CPUPercent = latest(points("cpu_percent"))
	f.Instances = latest(points("instances"))
	return f
}

func at(pts []Point, t time.Time) (float64, bool) {
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].T.Equal(t) {
			return pts[i].V, true
		}
	}
	return 0, false
}

func latest(pts []Point) *float64 {
	if len(pts) == 0 {
		return nil
	}
	v := pts[len(pts)-1].V
	return &v
}
