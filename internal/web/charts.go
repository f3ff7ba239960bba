package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// chartRange is one of the ranges the chart page offers.
type chartRange struct {
	Name      string
	Span      time.Duration
	Step      time.Duration
	StepLabel string // counters are "per <StepLabel>"
}

// 15m reads the 10 s points themselves: the latest traffic, as a line
// after half a minute.
var chartRanges = []chartRange{
	{Name: "15m", Span: 15 * time.Minute, Step: 10 * time.Second, StepLabel: "10 s"},
	{Name: "1h", Span: time.Hour, Step: time.Minute, StepLabel: "minute"},
	{Name: "24h", Span: 24 * time.Hour, Step: 15 * time.Minute, StepLabel: "15 min"},
	{Name: "7d", Span: 7 * 24 * time.Hour, Step: time.Hour, StepLabel: "hour"},
}

// chartDef is one chart of a stage: its metrics, named as the metrics
// store names them, and whether they are counters (summed per step).
type chartDef struct {
	Title   string
	Unit    string // for gauges; counters get "per <step>"
	Counter bool
	Metrics [][2]string // {store metric, legend name}
}

var stageCharts = []chartDef{
	{Title: "Requests", Counter: true, Metrics: [][2]string{{"requests", "requests"}}},
	{Title: "Latency", Unit: "ms", Metrics: [][2]string{{"p50_latency_ms", "p50"}, {"p99_latency_ms", "p99"}}},
	{Title: "Errors", Counter: true, Metrics: [][2]string{{"status_4xx", "4xx"}, {"status_5xx", "5xx"}}},
	{Title: "CPU", Unit: "% of a vCPU", Metrics: [][2]string{{"cpu_percent", "cpu"}}},
	{Title: "Instances", Unit: "count", Metrics: [][2]string{{"instances", "instances"}}},
	{Title: "Cold starts", Counter: true, Metrics: [][2]string{{"cold_starts", "cold starts"}}},
}

type chartsView struct {
	Stage     string
	Range     string
	Ranges    []string
	Charts    []string // SVG
	NoMetrics bool
}

// stageChartSet builds a stage's charts over r ending at to: a pure
// function of what metrics returns.
func stageChartSet(m Metrics, stack, stage string, r chartRange, to time.Time) []Chart {
	from := to.Add(-r.Span)
	out := make([]Chart, 0, len(stageCharts))
	for _, def := range stageCharts {
		c := Chart{Title: def.Title, Unit: def.Unit, From: from, To: to, Step: r.Step}
		if def.Counter {
			c.Unit = "per " + r.StepLabel
		}
		for _, mt := range def.Metrics {
			s := Series{Name: mt[1]}
			if m != nil {
				s.Points = m.Series(stack, stage, mt[0], from, to, r.Step)
			}
			c.Series = append(c.Series, s)
		}
		out = append(out, c)
	}
	return out
}

func (d *Dashboard) charts(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	st, err := d.cfg.Service.Status(r.Context(), stack)
	if err != nil {
		return err
	}
	if !hasStage(st, stage) {
		return core.Errorf(core.CodeNotFound, "stack %s has no stage %s", stack, stage)
	}
	name := r.URL.Query().Get("range")
	if name == "" {
		name = "1h"
	}
	var rng *chartRange
	var names []string
	for i := range chartRanges {
		names = append(names, chartRanges[i].Name)
		if chartRanges[i].Name == name {
			rng = &chartRanges[i]
		}
	}
	if rng == nil {
		return core.Errorf(core.CodeInvalid, "invalid range %q: use %s", name, strings.Join(names, ", "))
	}
	to := d.now().Truncate(rng.Step).Add(rng.Step)
	v := chartsView{Stage: stage, Range: rng.Name, Ranges: names, NoMetrics: d.cfg.Metrics == nil}
	for _, c := range stageChartSet(d.cfg.Metrics, stack, stage, *rng, to) {
		v.Charts = append(v.Charts, DrawChart(c))
	}
	return d.render(w, r, ss, http.StatusOK, "charts.html", view{Title: stage + " of " + stack + ": charts", Stack: stack, Data: v})
}

func hasStage(st core.StackStatus, stage string) bool {
	for _, sg := range st.Stages {
		if sg.Name == stage {
			return true
		}
	}
	return false
}
