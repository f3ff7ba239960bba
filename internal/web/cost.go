package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
	"github.com/slipwayhq/slipway/internal/traffic"
)

// costWindow is the usage the cost page extrapolates from.
const costWindow = 24 * time.Hour

// costEstimate is one estimate on the cost page and how its profile was
// made.
type costEstimate struct {
	Title    string
	Notes    []string
	Estimate cost.Estimate
}

// costView is a stage's cost page: the estimate for the default profile
// (there before the first release), the estimate from the last 24 h of
// usage when there was traffic, and the four options compared and
// plotted for the default profile.
type costView struct {
	Stage      string
	Table      string
	Default    costEstimate
	Usage      *costEstimate
	NoUsage    string // why there is no usage estimate
	Comparison cost.Comparison
	Chart      string // SVG
}

func (d *Dashboard) cost(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	st, err := d.cfg.Service.Status(r.Context(), stack)
	if err != nil {
		return err
	}
	var sg *core.StageStatus
	for i := range st.Stages {
		if st.Stages[i].Name == stage {
			sg = &st.Stages[i]
		}
	}
	if sg == nil {
		return core.Errorf(core.CodeNotFound, "stack %s has no stage %s", stack, stage)
	}
	table, err := cost.LoadTable("")
	if err != nil {
		return err
	}
	s := traffic.Stage(st.Architecture, *sg)
	p, notes, err := traffic.FromFlags(traffic.Flags{})
	if err != nil {
		return err
	}
	v := costView{Stage: stage, Table: table.Name,
		Default:    costEstimate{Title: "Default profile", Notes: notes, Estimate: cost.EstimateStage(table, s, p)},
		Comparison: cost.Compare(table, s, p),
		Chart:      CostPlot(table, s, p, fmt.Sprintf("Monthly AWS cost of %s by requests a month (%s)", stage, table.Name)),
	}
	if d.cfg.Metrics == nil {
		v.NoUsage = "This server has no metrics store."
	} else {
		up, unotes, err := traffic.FromUsage(d.metered(r, stack, stage))
		if err != nil {
			v.NoUsage = "No requests in the last 24 hours."
		} else {
			v.Usage = &costEstimate{Title: "Last 24 hours, extrapolated to 30 days", Notes: unotes, Estimate: cost.EstimateStage(table, s, up)}
		}
	}
	return d.render(w, r, ss, http.StatusOK, "cost.html", view{Title: stage + " of " + stack + ": cost", Stack: stack, Data: v})
}

// metered reads the stage's last 24 h as the API's from_usage does:
// requests, median latency and concurrency per minute, and the mean size
// of the last accessSample responses.
func (d *Dashboard) metered(r *http.Request, stack, stage string) traffic.Metered {
	to := d.now()
	from := to.Add(-costWindow)
	step := traffic.UsageStep(costWindow)
	read := func(metric string) []traffic.Point {
		pts := d.cfg.Metrics.Series(stack, stage, metric, from, to, step)
		out := make([]traffic.Point, len(pts))
		for i, p := range pts {
			out[i] = traffic.Point{T: p.T, V: p.V}
		}
		return out
	}
	m := traffic.Metered{Window: costWindow, Step: step, Requests: read("requests"), P50MS: read("p50_latency_ms"), Concurrency: read("concurrency")}
	if rs, ok := d.cfg.Logs.(ResponseSizer); ok {
		if mean, n, err := rs.ResponseBytes(r.Context(), stack, stage, from, accessSample); err == nil && n > 0 {
			m.ResponseBytes, m.Sampled = mean, n
		}
	}
	return m
}

// ResponseSizer is what the dashboard's Logs may also do, for the cost
// page: the mean response size of a stage's last limit access log
// entries since a time (n = 0: none). Without it the page assumes the
// default size.
type ResponseSizer interface {
	ResponseBytes(ctx context.Context, stack, stage string, since time.Time, limit int) (mean float64, n int, err error)
}

// accessSample bounds the access log entries read for the mean response
// size (as the API's from_usage).
const accessSample = 10000

// CostPlot draws the four options' monthly cost for s and p across
// traffic.Volumes, with the crossovers cost.Compare finds for p: the
// chart the dashboard shows and the API serves as plot.svg.
func CostPlot(t *cost.Table, s cost.Stage, p cost.Profile, title string) string {
	vols := traffic.Volumes()
	curves := cost.Curve(t, s, p, vols)
	c := CostChart{Title: title, Volumes: vols}
	for _, name := range traffic.OptionOrder {
		c.Lines = append(c.Lines, CostLine{Name: name, Costs: curves[name]})
	}
	for _, x := range cost.Compare(t, s, p).Crossovers {
		if x.RequestsPerMonth > 0 {
			c.Markers = append(c.Markers, CostMarker{A: x.A, B: x.B, RequestsPerMonth: x.RequestsPerMonth})
		}
	}
	return DrawCostChart(c)
}
