package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/telemetry"
)

// Metrics is what the API reads of the metrics store (telemetry.Store).
type Metrics interface {
	Query(k telemetry.Key, from, to time.Time, step time.Duration) []telemetry.Point
}

var _ Metrics = (*telemetry.Store)(nil)

// SetMetrics gives the API the metrics store and the Prometheus
// exposition handler (which checks its own tokens: the admin token or
// the read-only scrape token); without them their routes answer
// unavailable. Call before serving.
func (a *API) SetMetrics(m Metrics, exposition http.Handler) { a.metrics, a.exposition = m, exposition }

// maxPoints bounds a stepped query's answer (Prometheus's limit).
const maxPoints = 11000

var (
	pMetric   = param{"metric", "query", "metric name, e.g. requests, p99_latency_ms, cpu_percent (GET /v1/metrics lists them)"}
	pInstance = param{"instance", "query", "an instance's name: its own series instead of the stage's"}
	pRange    = param{"since", "query", "the window, back from now, e.g. 1h (default), 24h, 7d as 168h; or from and to (RFC 3339)"}
	pStep     = param{"step", "query", "re-aggregate to this period, e.g. 1m or 1h; 0 or omitted: native (10 s within 48 h, 5 min before)"}
)

func (a *API) metricsRoutes() []route {
	return []route{
		{method: "GET", pattern: "/metrics", summary: "Prometheus exposition (text format) of every stage's metrics; needs the admin token or the read-only scrape token (<data-dir>/scrape-token) as a bearer token", public: true, response: "text/plain", status: 200, handle: a.exposeMetrics},
		{method: "GET", pattern: "/v1/metrics", summary: "The stored metrics: name, unit, kind (counter, gauge, latency) and description", response: jsonType, status: 200, handle: a.listMetrics},
		{method: "GET", pattern: "/v1/stacks/{stack}/stages/{stage}/metrics", summary: "A stage's (or an instance's) metric over a window: points oldest first, counters per period", response: jsonType, status: 200, params: []param{pStack, pStageP, pMetric, pInstance, pRange, pStep}, handle: a.queryMetrics},
	}
}

func (a *API) exposeMetrics(w http.ResponseWriter, r *http.Request) error {
	if a.exposition == nil {
		return core.Errorf(core.CodeUnavailable, "this server has no metrics store")
	}
	a.exposition.ServeHTTP(w, r)
	return nil
}

func (a *API) listMetrics(w http.ResponseWriter, r *http.Request) error {
	out := []core.MetricInfo{}
	for _, m := range telemetry.Metrics() {
		out = append(out, core.MetricInfo{Name: m.Name, Unit: m.Unit, Kind: m.Kind, Help: m.Help})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) queryMetrics(w http.ResponseWriter, r *http.Request) error {
	if a.metrics == nil {
		return core.Errorf(core.CodeUnavailable, "this server has no metrics store")
	}
	q := r.URL.Query()
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	name := q.Get("metric")
	mi, ok := telemetry.Lookup(name)
	if !ok {
		return core.Errorf(core.CodeInvalid, "unknown metric %q: use one of %s", name, metricNames())
	}
	from, to, step, err := metricsWindow(q.Get("since"), q.Get("from"), q.Get("to"), q.Get("step"), time.Now())
	if err != nil {
		return err
	}
	st, err := a.svc.Status(r.Context(), stack)
	if err != nil {
		return err
	}
	found := false
	for _, s := range st.Stages {
		found = found || s.Name == stage
	}
	if !found {
		return core.Errorf(core.CodeNotFound, "stack %s has no stage %q", stack, stage)
	}
	k := telemetry.Key{Stack: stack, Stage: stage, Instance: q.Get("instance"), Metric: name}
	if name == telemetry.BuildsSucceeded || name == telemetry.BuildsFailed {
		k.Stage, k.Instance = "", "" // builds are the stack's
	}
	pts := a.metrics.Query(k, from, to, step)
	out := core.MetricSeries{Stack: stack, Stage: stage, Instance: k.Instance, Metric: name, Unit: mi.Unit, Kind: mi.Kind,
		From: from.UTC(), To: to.UTC(), Step: core.Duration(step), Points: make([]core.MetricPoint, len(pts))}
	for i, p := range pts {
		out.Points[i] = core.MetricPoint{T: p.T, V: p.V}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// metricsWindow reads a query's window: since (default 1h) back from
// now, or from and to; and its step.
func metricsWindow(since, fromS, toS, stepS string, now time.Time) (from, to time.Time, step time.Duration, err error) {
	to = now
	if toS != "" {
		if to, err = time.Parse(time.RFC3339, toS); err != nil {
			return from, to, 0, core.Errorf(core.CodeInvalid, "invalid to %q: use an RFC 3339 time like 2026-11-22T10:00:00Z", toS)
		}
	}
	switch {
	case fromS != "" && since != "":
		return from, to, 0, core.Errorf(core.CodeInvalid, "give since or from, not both")
	case fromS != "":
		if from, err = time.Parse(time.RFC3339, fromS); err != nil {
			return from, to, 0, core.Errorf(core.CodeInvalid, "invalid from %q: use an RFC 3339 time like 2026-11-22T09:00:00Z", fromS)
		}
	default:
		d := time.Hour
		if since != "" {
			if d, err = time.ParseDuration(since); err != nil || d <= 0 {
				return from, to, 0, core.Errorf(core.CodeInvalid, "invalid since %q: use a positive duration like 1h, 24h or 168h", since)
			}
		}
		from = to.Add(-d)
	}
	if !from.Before(to) {
		return from, to, 0, core.Errorf(core.CodeInvalid, "the window is empty: from must be before to")
	}
	if to.Sub(from) > telemetry.CoarseRetention+24*time.Hour {
		return from, to, 0, core.Errorf(core.CodeInvalid, "the window is over 90 days, the metrics' retention")
	}
	if stepS != "" && stepS != "0" {
		if step, err = time.ParseDuration(stepS); err != nil || step < telemetry.FineStep || step%telemetry.FineStep != 0 {
			return from, to, 0, core.Errorf(core.CodeInvalid, "invalid step %q: use a multiple of 10s, like 1m or 1h, or 0 for the native resolution", stepS)
		}
		if n := to.Sub(from) / step; n > maxPoints {
			return from, to, 0, core.Errorf(core.CodeInvalid, "step %s makes %d points over the window, over the limit of %d: use a larger step", step, n, maxPoints)
		}
	}
	return from, to, step, nil
}

func metricNames() string {
	var names []string
	for _, m := range telemetry.Metrics() {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}
