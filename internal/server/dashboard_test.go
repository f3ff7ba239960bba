package server

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/web"
)

func TestAccessSeries(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	reqs := []accessSample{
		{Time: t0.Add(10 * time.Second), Status: 200, LatencyMS: 10},
		{Time: t0.Add(20 * time.Second), Status: 404, LatencyMS: 30},
		{Time: t0.Add(30 * time.Second), Status: 502, LatencyMS: 20, ColdStart: true},
		{Time: t0.Add(2*time.Minute + time.Second), Status: 200, LatencyMS: 5},
		{Time: t0.Add(-time.Second), Status: 500},    // before the range
		{Time: t0.Add(3 * time.Minute), Status: 500}, // at its end: outside
	}
	from, to := t0, t0.Add(3*time.Minute)
	vals := func(ps []web.Point) []float64 {
		var out []float64
		for _, p := range ps {
			out = append(out, p.V)
		}
		return out
	}
	cases := map[string][]float64{
		"requests":       {3, 0, 1},
		"status_4xx":     {1, 0, 0},
		"status_5xx":     {1, 0, 0},
		"cold_starts":    {1, 0, 0},
		"p50_latency_ms": {20, 5}, // the empty minute is absent
		"p99_latency_ms": {30, 5},
		"cpu_percent":    nil,
	}
	for metric, want := range cases {
		got := vals(accessSeries(reqs, metric, from, to, time.Minute))
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", metric, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", metric, got, want)
				break
			}
		}
	}
}

func TestRuntimeLines(t *testing.T) {
	out := "it-a-dev-2 | 2026-11-22T10:00:02.5Z second\nit-a-dev-1 | 2026-11-22T10:00:01Z first | with a bar\ngarbage\n2026-11-22T10:00:03Z solo\n"
	got := runtimeLines(out)
	if len(got) != 3 || got[0].Text != "first | with a bar" || got[0].Instance != "it-a-dev-1" || got[1].Instance != "it-a-dev-2" || got[2].Instance != "" || got[2].Text != "solo" {
		t.Fatalf("runtimeLines = %+v", got)
	}
	t1 := got[0].Time
	kept := filterLines(got, web.LogQuery{Since: t1, Grep: "o", Limit: 1})
	if len(kept) != 1 || kept[0].Text != "solo" {
		t.Fatalf("filterLines = %+v", kept)
	}
}
