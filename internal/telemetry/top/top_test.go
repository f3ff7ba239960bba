package top

import (
	"context"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func p(sec int, v float64) Point { return Point{t0.Add(time.Duration(sec) * time.Second), v} }

func TestFigures(t *testing.T) {
	tests := []struct {
		name   string
		series map[string][]Point
		check  func(t *testing.T, f core.StageFigures)
	}{
		{"busy", map[string][]Point{
			"requests": {p(0, 50), p(10, 200)}, "errors": {p(0, 0), p(10, 10)}, "p99_latency_ms": {p(0, 20), p(10, 612.5)},
			"cpu_percent": {p(10, 37.5)}, "instances": {p(0, 1), p(10, 2)},
		}, func(t *testing.T, f core.StageFigures) {
			if f.RequestsPerS != 20 || f.ErrorsPerS != 1 || f.ErrorPercent != 5 || f.P99MS == nil || *f.P99MS != 612.5 ||
				*f.CPUPercent != 37.5 || *f.Instances != 2 {
				t.Fatalf("%+v", f)
			}
		}},
		{"idle: no latency in the last period", map[string][]Point{
			"requests": {p(0, 50), p(10, 0)}, "errors": {p(0, 0), p(10, 0)}, "p99_latency_ms": {p(0, 20)}, "instances": {p(10, 1)},
		}, func(t *testing.T, f core.StageFigures) {
			if f.RequestsPerS != 0 || f.P99MS != nil || f.ErrorPercent != 0 || f.CPUPercent != nil || *f.Instances != 1 {
				t.Fatalf("%+v", f)
			}
		}},
		{"no data", map[string][]Point{}, func(t *testing.T, f core.StageFigures) {
			if f.RequestsPerS != 0 || f.P99MS != nil || f.CPUPercent != nil || f.Instances != nil {
				t.Fatalf("%+v", f)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Figures("app", "prod", func(m string) []Point { return tt.series[m] })
			if f.Stack != "app" || f.Stage != "prod" {
				t.Fatalf("%+v", f)
			}
			tt.check(t, f)
		})
	}
}

type lister []core.StackStatus

func (l lister) List(context.Context) ([]core.StackStatus, error) { return l, nil }
func (l lister) Status(_ context.Context, name string) (core.StackStatus, error) {
	for _, s := range l {
		if s.Name == name {
			return s, nil
		}
	}
	return core.StackStatus{}, core.Errorf(core.CodeNotFound, "unknown stack %q", name)
}

func TestSnapshot(t *testing.T) {
	stacks := lister{{Name: "a", Stages: []core.StageStatus{{Name: "dev"}, {Name: "prod"}}}, {Name: "b", Stages: []core.StageStatus{{Name: "dev"}}}}
	var asked [][2]time.Time
	tp := &Top{Stacks: stacks, Now: func() time.Time { return t0.Add(65 * time.Second) }, Query: func(stack, stage, metric string, from, to time.Time) []Point {
		asked = append(asked, [2]time.Time{from, to})
		if metric == "requests" {
			return []Point{p(50, float64(len(stack+stage))*10)}
		}
		return nil
	}}
	all, err := tp.Snapshot(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Stages) != 3 || all.Stages[1].Stage != "prod" || all.Stages[1].RequestsPerS != 5 || all.Period.D() != Step {
		t.Fatalf("%+v", all)
	}
	if asked[0][0] != t0.Add(5*time.Second) || asked[0][1] != t0.Add(65*time.Second) {
		t.Fatalf("queried %v", asked[0])
	}
	one, err := tp.Snapshot(context.Background(), "b")
	if err != nil || len(one.Stages) != 1 || one.Stages[0].Stack != "b" {
		t.Fatalf("%+v %v", one, err)
	}
	if _, err := tp.Snapshot(context.Background(), "nope"); !core.IsNotFound(err) {
		t.Fatalf("unknown stack: %v", err)
	}
}
