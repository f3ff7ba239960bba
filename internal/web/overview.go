package web

import (
	"net/http"
	"sort"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// stackRow is one stack on the overview.
type stackRow struct {
	Name         string
	Architecture core.Architecture
	Stages       []core.StageStatus
	Endpoints    []string // distinct endpoint kinds of its stages
	Instances    int
	Spark        string  // SVG: requests per minute over the last hour
	RPM          float64 // mean requests per minute over that hour
	LastBuild    *core.Build
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, ss *session) error {
	list, err := d.cfg.Service.List(r.Context())
	if err != nil {
		return err
	}
	to := d.now().Truncate(time.Minute).Add(time.Minute)
	from := to.Add(-time.Hour)
	rows := make([]stackRow, 0, len(list))
	for _, st := range list {
		row := stackRow{Name: st.Name, Architecture: st.Architecture, Stages: st.Stages, LastBuild: st.LastBuild}
		seen := map[string]bool{}
		var stages []string
		for _, sg := range st.Stages {
			row.Instances += len(sg.Instances)
			if sg.Endpoint != "" && !seen[sg.Endpoint] {
				seen[sg.Endpoint] = true
				row.Endpoints = append(row.Endpoints, sg.Endpoint)
			}
			stages = append(stages, sg.Name)
		}
		points := d.stackRequests(st.Name, stages, from, to)
		total := 0.0
		for _, p := range points {
			total += p.V
		}
		row.RPM = total / 60
		row.Spark = DrawSparkline(points, from, to, "requests per minute, last hour")
		rows = append(rows, row)
	}
	return d.render(w, r, ss, http.StatusOK, "overview.html", view{Title: "Stacks", Data: rows})
}

// stackRequests sums the stages' requests per minute.
func (d *Dashboard) stackRequests(stack string, stages []string, from, to time.Time) []Point {
	if d.cfg.Metrics == nil {
		return nil
	}
	sum := sumSeries(func(yield func([]Point)) {
		for _, sg := range stages {
			yield(d.cfg.Metrics.Series(stack, sg, "requests", from, to, time.Minute))
		}
	})
	return fillZeros(sum, from, to, time.Minute)
}

// fillZeros puts a 0 at every step of [from, to) that has no point: for a
// counter, a minute without data is a minute without requests, and the
// sparkline stays a line rather than a few dots.
func fillZeros(points []Point, from, to time.Time, step time.Duration) []Point {
	have := map[int64]float64{}
	for _, p := range points {
		have[p.T.UnixNano()] = p.V
	}
	var out []Point
	for t := from; t.Before(to); t = t.Add(step) {
		out = append(out, Point{T: t, V: have[t.UnixNano()]})
	}
	return out
}

// sumSeries adds series point by point (equal times), oldest first.
func sumSeries(each func(func([]Point))) []Point {
	sums := map[int64]float64{} // by UnixNano: equal instants, whatever their location
	each(func(ps []Point) {
		for _, p := range ps {
			sums[p.T.UnixNano()] += p.V
		}
	})
	out := make([]Point, 0, len(sums))
	for t, v := range sums {
		out = append(out, Point{T: time.Unix(0, t).UTC(), V: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}
