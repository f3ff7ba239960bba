package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/traffic"
	"github.com/slipwayhq/slipway/internal/web"
)

// The cost routes' query parameters: a traffic profile (figures, or a
// window of metered usage) and a price table.
var (
	pRequests   = param{"requests", "query", "requests a month, e.g. 10M, 1.5k, 2B (default 1M)"}
	pDuration   = param{"duration", "query", "mean request duration, e.g. 120ms, 1.2s (default 100ms)"}
	pReqBytes   = param{"request_bytes", "query", "mean request size, e.g. 512, 4KB (default 1KB)"}
	pRespBytes  = param{"response_bytes", "query", "mean response size (default 10KB)"}
	pPeak       = param{"peak_concurrency", "query", "requests in flight at the peak (default: derived by the estimator)"}
	pNewConns   = param{"new_connections", "query", "new connections per second (default: derived by the estimator)"}
	pActive     = param{"active_connections", "query", "active connections per minute (default: derived by the estimator)"}
	pTable      = param{"table", "query", "price table, e.g. us-east-1-2021-07 (GET /v1/cost/tables; default the current one)"}
	pFromUsage  = param{"from_usage", "query", "instead of figures: the stage's metered usage over this window back from now (e.g. 24h), extrapolated to 30 days"}
	pCostStage  = param{"stage", "query", "stage name (default the first)"}
	profileArgs = []param{pRequests, pDuration, pReqBytes, pRespBytes, pPeak, pNewConns, pActive, pTable, pFromUsage}
)

const svgType = "image/svg+xml"

// accessSample bounds how many access log entries a usage profile reads
// for the mean response size.
const accessSample = 10000

func (a *API) costRoutes() []route {
	stageArgs := append([]param{pStack, pStageP}, profileArgs...)
	stackArgs := append([]param{pStack, pCostStage}, profileArgs...)
	return []route{
		{method: "GET", pattern: "/v1/cost/tables", summary: "The AWS price tables the cost model can use", response: jsonType, status: 200, handle: a.costTables},
		{method: "GET", pattern: "/v1/stacks/{stack}/stages/{stage}/cost", summary: "A stage's monthly cost on AWS for a traffic profile, by line item with the arithmetic", response: jsonType, status: 200, params: stageArgs, handle: a.stageCost},
		{method: "GET", pattern: "/v1/stacks/{stack}/cost/compare", summary: "A stage's monthly cost in each architecture × endpoint combination, their crossover volumes and a recommendation", response: jsonType, status: 200, params: stackArgs, handle: a.compareCost},
		{method: "GET", pattern: "/v1/stacks/{stack}/cost/plot.svg", summary: "SVG chart of a stage's monthly cost against requests/month (100k to 1B) for the four combinations", response: svgType, status: 200, params: stackArgs, handle: a.plotStackCost},
		{method: "GET", pattern: "/v1/cost/plot.svg", summary: "SVG chart of a default stage's monthly cost against requests/month for the four combinations", response: svgType, status: 200, params: profileArgs[:len(profileArgs)-1], handle: a.plotCost},
		{method: "POST", pattern: "/v1/cost/estimate", summary: "Estimate every stage of a stack's config (the parsed slipway.yml, as JSON) before it is deployed", request: jsonType, response: jsonType, status: 200, params: profileArgs[:len(profileArgs)-1], handle: a.estimateSpec},
	}
}

func (a *API) costTables(w http.ResponseWriter, r *http.Request) error {
	def, err := cost.LoadTable("")
	if err != nil {
		return err
	}
	out := []traffic.TableInfo{}
	for _, name := range cost.Tables() {
		t, err := cost.LoadTable(name)
		if err != nil {
			return err
		}
		out = append(out, traffic.TableInfo{Name: t.Name, Region: t.Region, Date: t.Date, Default: t.Name == def.Name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// profileRequest is what a cost request asks for.
type profileRequest struct {
	table  *cost.Table
	flags  traffic.Flags
	window time.Duration // from_usage; 0: figures
}

// readProfileRequest reads and checks the query's profile and table.
func readProfileRequest(q url.Values) (profileRequest, error) {
	var pr profileRequest
	for k := range q {
		if !knownCostParam(k) {
			return pr, core.Errorf(core.CodeInvalid, "unknown parameter %q: use %s", k, costParamNames())
		}
	}
	t, err := cost.LoadTable(q.Get("table"))
	if err != nil {
		return pr, core.Errorf(core.CodeInvalid, "%v", err)
	}
	pr.table = t
	pr.flags = traffic.Flags{Requests: q.Get("requests"), Duration: q.Get("duration"), RequestBytes: q.Get("request_bytes"),
		ResponseBytes: q.Get("response_bytes"), PeakConcurrency: q.Get("peak_concurrency"),
		NewConnections: q.Get("new_connections"), ActiveConnections: q.Get("active_connections")}
	if s := q.Get("from_usage"); s != "" {
		if pr.flags.Given() {
			return pr, core.Errorf(core.CodeInvalid, "give from_usage or traffic figures (requests, duration, ...), not both")
		}
		if pr.window, err = traffic.Window(s); err != nil {
			return pr, core.Errorf(core.CodeInvalid, "%v", err)
		}
	} else if _, _, err := traffic.FromFlags(pr.flags); err != nil {
		return pr, core.Errorf(core.CodeInvalid, "%v", err)
	}
	return pr, nil
}

func knownCostParam(k string) bool {
	if k == "stage" {
		return true
	}
	for _, p := range profileArgs {
		if p.name == k {
			return true
		}
	}
	return false
}

func costParamNames() string {
	var names []string
	for _, p := range profileArgs {
		names = append(names, p.name)
	}
	return strings.Join(names, ", ") + " (and stage where the path has none)"
}

// stageProfile is a profile for one stage of a stack: from the figures,
// or from its metered usage.
type stageProfile struct {
	arch    core.Architecture
	stage   core.StageStatus
	profile cost.Profile
	source  string
	window  string
	notes   []string
}

func (a *API) resolveStage(ctx context.Context, stack, stage string, pr profileRequest) (stageProfile, error) {
	st, err := a.svc.Status(ctx, stack)
	if err != nil {
		return stageProfile{}, err
	}
	sp := stageProfile{arch: st.Architecture, source: traffic.SourceFlags}
	found := false
	var names []string
	for _, s := range st.Stages {
		names = append(names, s.Name)
		if s.Name == stage || stage == "" && !found {
			sp.stage, found = s, true
		}
	}
	if !found {
		return sp, core.Errorf(core.CodeNotFound, "stack %s has no stage %q: its stages are %s", stack, stage, strings.Join(names, ", "))
	}
	if pr.window == 0 {
		sp.profile, sp.notes, err = traffic.FromFlags(pr.flags)
		return sp, err
	}
	m, err := a.meter(ctx, stack, sp.stage.Name, pr.window)
	if err != nil {
		return sp, err
	}
	sp.source, sp.window = traffic.SourceUsage, traffic.FormatWindow(pr.window)
	if sp.profile, sp.notes, err = traffic.FromUsage(m); err != nil {
		return sp, core.Errorf(core.CodeInvalid, "stage %s: %v", sp.stage.Name, err)
	}
	return sp, nil
}

// meter reads a stage's metered usage over the window back from now:
// requests, median latency and concurrency from the metrics store, and
// the mean response size of the window's last accessSample access log
// entries (when there is a log store).
func (a *API) meter(ctx context.Context, stack, stage string, window time.Duration) (traffic.Metered, error) {
	if a.metrics == nil {
		return traffic.Metered{}, core.Errorf(core.CodeUnavailable, "this server has no metrics store: give traffic figures instead of from_usage")
	}
	to := time.Now()
	from := to.Add(-window)
	step := traffic.UsageStep(window)
	read := func(metric string) []traffic.Point {
		pts := a.metrics.Query(telemetry.Key{Stack: stack, Stage: stage, Metric: metric}, from, to, step)
		out := make([]traffic.Point, len(pts))
		for i, p := range pts {
			out[i] = traffic.Point{T: p.T, V: p.V}
		}
		return out
	}
	m := traffic.Metered{Window: window, Step: step, Requests: read(telemetry.Requests),
		P50MS: read(telemetry.P50Latency), Concurrency: read(telemetry.Concurrency)}
	var sum float64
	err := a.svc.ReadLogs(ctx, stack, service.LogQuery{Kind: logstore.Access, Stage: stage, Since: from, Tail: accessSample}, func(e logstore.Entry) error {
		var v struct {
			Bytes int64 `json:"bytes"`
		}
		if json.Unmarshal(e.JSON, &v) == nil {
			sum += float64(v.Bytes)
			m.Sampled++
		}
		return nil
	})
	if err != nil {
		a.log.Debug("no access log for a usage profile", "stack", stack, "stage", stage, "err", err)
		m.Sampled = 0
	}
	if m.Sampled > 0 {
		m.ResponseBytes = sum / float64(m.Sampled)
	}
	return m, nil
}

func (a *API) stageCost(w http.ResponseWriter, r *http.Request) error {
	pr, err := readProfileRequest(r.URL.Query())
	if err != nil {
		return err
	}
	stack := r.PathValue("stack")
	sp, err := a.resolveStage(r.Context(), stack, r.PathValue("stage"), pr)
	if err != nil {
		return err
	}
	est := cost.EstimateStage(pr.table, traffic.Stage(sp.arch, sp.stage), sp.profile)
	writeJSON(w, http.StatusOK, traffic.StageCost{Stack: stack, Stage: sp.stage.Name, Source: sp.source, Window: sp.window, Notes: nonNil(sp.notes), Estimate: est})
	return nil
}

func (a *API) compareCost(w http.ResponseWriter, r *http.Request) error {
	pr, err := readProfileRequest(r.URL.Query())
	if err != nil {
		return err
	}
	stack := r.PathValue("stack")
	sp, err := a.resolveStage(r.Context(), stack, r.URL.Query().Get("stage"), pr)
	if err != nil {
		return err
	}
	cmp := cost.Compare(pr.table, traffic.Stage(sp.arch, sp.stage), sp.profile)
	writeJSON(w, http.StatusOK, traffic.StageComparison{Stack: stack, Stage: sp.stage.Name, Table: pr.table.Name, Source: sp.source,
		Window: sp.window, Notes: nonNil(sp.notes), Profile: sp.profile, Comparison: cmp})
	return nil
}

func (a *API) plotStackCost(w http.ResponseWriter, r *http.Request) error {
	pr, err := readProfileRequest(r.URL.Query())
	if err != nil {
		return err
	}
	stack := r.PathValue("stack")
	sp, err := a.resolveStage(r.Context(), stack, r.URL.Query().Get("stage"), pr)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Monthly AWS cost of %s/%s by requests a month (%s)", stack, sp.stage.Name, pr.table.Name)
	writeSVG(w, web.CostPlot(pr.table, traffic.Stage(sp.arch, sp.stage), sp.profile, title))
	return nil
}

func (a *API) plotCost(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("from_usage") || q.Has("stage") {
		return core.Errorf(core.CodeInvalid, "from_usage and stage need a stack: use /v1/stacks/{stack}/cost/plot.svg")
	}
	pr, err := readProfileRequest(q)
	if err != nil {
		return err
	}
	p, _, err := traffic.FromFlags(pr.flags)
	if err != nil {
		return core.Errorf(core.CodeInvalid, "%v", err)
	}
	s := cost.StageFromSpec(core.ArchContainer, core.StageSpec{Name: core.DefaultStage, Scale: core.DefaultScale(), Serverless: core.DefaultServerless()})
	title := fmt.Sprintf("Monthly AWS cost of a default stage by requests a month (%s)", pr.table.Name)
	writeSVG(w, web.CostPlot(pr.table, s, p, title))
	return nil
}

func writeSVG(w http.ResponseWriter, svg string) {
	w.Header().Set("Content-Type", svgType)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(svg))
}

// estimateSpec estimates a stack config before its deploy: the client
// parsed slipway.yml (with the server's rules, reporting its errors with
// line numbers) and sends the result.
func (a *API) estimateSpec(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("from_usage") || q.Has("stage") {
		return core.Errorf(core.CodeInvalid, "from_usage and stage do not apply to a config not yet deployed: give traffic figures")
	}
	pr, err := readProfileRequest(q)
	if err != nil {
		return err
	}
	var spec core.StackSpec
	if err := decode(r, &spec); err != nil {
		return err
	}
	if spec.Architecture != core.ArchContainer && spec.Architecture != core.ArchServerless {
		return core.Errorf(core.CodeInvalid, "architecture %q: use container or serverless", spec.Architecture)
	}
	if len(spec.Stages) == 0 {
		return core.Errorf(core.CodeInvalid, "the config has no stages")
	}
	p, notes, err := traffic.FromFlags(pr.flags)
	if err != nil {
		return core.Errorf(core.CodeInvalid, "%v", err)
	}
	out := traffic.SpecCost{Stack: spec.Name, Table: pr.table.Name, Notes: nonNil(notes), Profile: p}
	for _, sg := range spec.Stages {
		est := cost.EstimateStage(pr.table, cost.StageFromSpec(spec.Architecture, sg), p)
		out.Stages = append(out.Stages, traffic.StageEstimate{Stage: sg.Name, Estimate: est})
		out.Total += est.Total
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
