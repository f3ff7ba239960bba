package api

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/traffic"
)

// costSvc answers Status and ReadLogs; the cost routes need nothing else.
type costSvc struct {
	Service
	status core.StackStatus
	access []string // access log entries (JSON)
}

func (s *costSvc) Status(ctx context.Context, name string) (core.StackStatus, error) {
	if name != s.status.Name {
		return core.StackStatus{}, core.Errorf(core.CodeNotFound, "no stack %s", name)
	}
	return s.status, nil
}

func (s *costSvc) ReadLogs(ctx context.Context, stack string, q service.LogQuery, fn func(logstore.Entry) error) error {
	if q.Kind != logstore.Access || q.Tail != accessSample {
		return errors.New("unexpected log query")
	}
	for _, e := range s.access {
		if err := fn(logstore.Entry{JSON: []byte(e)}); err != nil {
			return err
		}
	}
	return nil
}

// costMetrics has 60 requests a minute at a 30 ms median for the last
// ten minutes of any window, and concurrency 0.03.
type costMetrics struct{ queried []telemetry.Key }

func (m *costMetrics) Query(k telemetry.Key, from, to time.Time, step time.Duration) []telemetry.Point {
	m.queried = append(m.queried, k)
	v := map[string]float64{telemetry.Requests: 60, telemetry.P50Latency: 30, telemetry.Concurrency: 0.03}[k.Metric]
	var out []telemetry.Point
	for i := range 10 {
		out = append(out, telemetry.Point{T: to.Truncate(step).Add(-time.Duration(10-i) * step), V: v})
	}
	return out
}

func costAPI(t *testing.T, withMetrics bool) (*API, *costMetrics) {
	t.Helper()
	scale := core.ScaleSpec{Min: 2, Max: 4, CPU: 0.5, MemoryMB: 1024}
	svc := &costSvc{status: core.StackStatus{Name: "shop", Architecture: core.ArchContainer, Stages: []core.StageStatus{
		{Name: "dev", Endpoint: "gateway", Scale: &scale},
		{Name: "prod", Endpoint: "balancer", Scale: &scale},
	}}, access: []string{`{"bytes":1000}`, `{"bytes":3000}`, `not json`}}
	a := New(svc, "s3cret", Info{Version: "test"}, slog.New(slog.DiscardHandler))
	m := &costMetrics{}
	if withMetrics {
		a.SetMetrics(m, nil)
	}
	return a, m
}

func costGet(t *testing.T, a *API, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

func TestStageCost(t *testing.T) {
	a, _ := costAPI(t, false)
	rec := costGet(t, a, "GET", "/v1/stacks/shop/stages/prod/cost?requests=10M&duration=120ms&table=us-east-1-2021-07", "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got traffic.StageCost
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	table, _ := cost.LoadTable("us-east-1-2021-07")
	p, _, _ := traffic.FromFlags(traffic.Flags{Requests: "10M", Duration: "120ms"})
	stage := cost.Stage{Architecture: "container", Endpoint: "balancer", CPU: 0.5, MemoryMB: 1024, MinInstances: 2, MaxInstances: 4}
	want := cost.EstimateStage(table, stage, p)
	if got.Stack != "shop" || got.Stage != "prod" || got.Source != "flags" || got.Estimate.Table != "us-east-1-2021-07" {
		t.Errorf("answer %+v", got)
	}
	if !reflect.DeepEqual(normalize(t, got.Estimate), normalize(t, want)) {
		t.Errorf("estimate differs from cost.EstimateStage:\n got %+v\nwant %+v", got.Estimate, want)
	}
	if joined := strings.Join(got.Notes, "|"); !strings.Contains(joined, "1 KB per request and 10 KB per response") || strings.Contains(joined, "requests/month (the default") {
		t.Errorf("notes %q", got.Notes)
	}
}

// normalize round-trips through JSON, as the client sees an estimate.
func normalize(t *testing.T, e cost.Estimate) cost.Estimate {
	t.Helper()
	b, _ := json.Marshal(e)
	var out cost.Estimate
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCostErrors(t *testing.T) {
	a, _ := costAPI(t, false)
	for _, tc := range []struct {
		method, path string
		body         string
		code         int
		msg          string
	}{
		{"GET", "/v1/stacks/shop/stages/qa/cost", "", 404, `stack shop has no stage "qa": its stages are dev, prod`},
		{"GET", "/v1/stacks/nope/stages/dev/cost", "", 404, "no stack nope"},
		{"GET", "/v1/stacks/shop/stages/dev/cost?requests=lots", "", 400, `invalid requests "lots": use a count like 10M`},
		{"GET", "/v1/stacks/shop/stages/dev/cost?duration=-3ms", "", 400, `invalid duration "-3ms"`},
		{"GET", "/v1/stacks/shop/stages/dev/cost?table=eu-west-9", "", 400, "us-east-1-2021-07"},
		{"GET", "/v1/stacks/shop/stages/dev/cost?request=10M", "", 400, `unknown parameter "request": use requests, duration`},
		{"GET", "/v1/stacks/shop/stages/dev/cost?from_usage=24h&requests=1M", "", 400, "not both"},
		{"GET", "/v1/stacks/shop/stages/dev/cost?from_usage=soon", "", 400, `invalid usage window "soon"`},
		{"GET", "/v1/stacks/shop/stages/dev/cost?from_usage=24h", "", 503, "no metrics store"},
		{"GET", "/v1/cost/plot.svg?from_usage=24h", "", 400, "need a stack"},
		{"POST", "/v1/cost/estimate", `{"name":"x","architecture":"vm","stages":[{"name":"dev"}]}`, 400, `architecture "vm"`},
		{"POST", "/v1/cost/estimate", `{"name":"x","architecture":"container"}`, 400, "no stages"},
		{"POST", "/v1/cost/estimate", `{"nom":"x"}`, 400, "bad JSON body"},
	} {
		rec := costGet(t, a, tc.method, tc.path, tc.body)
		var body ErrorBody
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.code || !strings.Contains(body.Error.Message, tc.msg) || strings.Contains(body.Error.Message, "\n") {
			t.Errorf("%s %s: %d %q, want %d saying %q", tc.method, tc.path, rec.Code, body.Error.Message, tc.code, tc.msg)
		}
	}
	req := httptest.NewRequest("GET", "/v1/stacks/shop/stages/dev/cost", nil)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("without the token: %d", rec.Code)
	}
}

func TestStageCostFromUsage(t *testing.T) {
	a, m := costAPI(t, true)
	rec := costGet(t, a, "GET", "/v1/stacks/shop/stages/dev/cost?from_usage=1h", "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got traffic.StageCost
	json.Unmarshal(rec.Body.Bytes(), &got)
	p := got.Estimate.Profile
	// 10 minutes × 60 requests in the hour, × 720 hours in 30 days.
	if got.Source != "usage" || got.Window != "1h" || p.RequestsPerMonth != 600*720 || p.DurationMS != 30 || p.ResponseBytes != 2000 || p.PeakConcurrency != 0.03 {
		t.Errorf("answer %+v", got)
	}
	if len(got.Notes) == 0 || !strings.Contains(got.Notes[0], "from 1h of metered usage: 600 requests, extrapolated × 720 to 30 days") {
		t.Errorf("notes %q", got.Notes)
	}
	for _, k := range m.queried {
		if k.Stack != "shop" || k.Stage != "dev" || k.Instance != "" {
			t.Errorf("queried %+v", k)
		}
	}
	if len(m.queried) != 3 {
		t.Errorf("queried %d series, want requests, p50 and concurrency", len(m.queried))
	}
}

func TestCompareAndPlot(t *testing.T) {
	a, _ := costAPI(t, false)
	rec := costGet(t, a, "GET", "/v1/stacks/shop/cost/compare?requests=50M", "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var cmp traffic.StageComparison
	json.Unmarshal(rec.Body.Bytes(), &cmp)
	table, _ := cost.LoadTable("")
	p, _, _ := traffic.FromFlags(traffic.Flags{Requests: "50M"})
	want := cost.Compare(table, cost.Stage{Architecture: "container", Endpoint: "gateway", CPU: 0.5, MemoryMB: 1024, MinInstances: 2, MaxInstances: 4}, p)
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(cmp.Comparison)
	if cmp.Stage != "dev" || cmp.Table != table.Name || !bytes.Equal(wb, gb) {
		t.Errorf("compare of the first stage:\n got %s\nwant %s", gb, wb)
	}

	for _, path := range []string{"/v1/stacks/shop/cost/plot.svg?stage=prod&table=us-east-1-2021-07", "/v1/cost/plot.svg?duration=50ms"} {
		rec := costGet(t, a, "GET", path, "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != svgType {
			t.Fatalf("%s: %d %s %s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		paths, texts := 0, ""
		dec := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		for {
			tok, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s: not well-formed: %v", path, err)
				}
				break
			}
			switch v := tok.(type) {
			case xml.StartElement:
				if v.Name.Local == "path" {
					paths++
				}
			case xml.CharData:
				texts += string(v) + "|"
			}
		}
		if paths != 4 {
			t.Errorf("%s: %d paths, want 4", path, paths)
		}
		for _, name := range traffic.OptionOrder {
			if !strings.Contains(texts, name) {
				t.Errorf("%s: no legend for %s", path, name)
			}
		}
	}
}

func TestEstimateSpec(t *testing.T) {
	a, _ := costAPI(t, false)
	spec := core.StackSpec{Name: "fresh", Architecture: core.ArchServerless, Stages: []core.StageSpec{
		{Name: "dev", Serverless: core.DefaultServerless()},
		{Name: "prod", Serverless: core.DefaultServerless(), Endpoint: core.EndpointSpec{Kind: "balancer"}},
	}}
	body, _ := json.Marshal(spec)
	rec := costGet(t, a, "POST", "/v1/cost/estimate?requests=2M", string(body))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got traffic.SpecCost
	json.Unmarshal(rec.Body.Bytes(), &got)
	if got.Stack != "fresh" || len(got.Stages) != 2 || got.Stages[1].Stage != "prod" || got.Stages[1].Estimate.Stage.Endpoint != "balancer" ||
		got.Stages[0].Estimate.Stage.Architecture != "serverless" || got.Profile.RequestsPerMonth != 2e6 {
		t.Fatalf("answer %+v", got)
	}
	if sum := got.Stages[0].Estimate.Total + got.Stages[1].Estimate.Total; got.Total != sum {
		t.Errorf("total %v, want the stages' sum %v", got.Total, sum)
	}
}

func TestCostTables(t *testing.T) {
	a, _ := costAPI(t, false)
	rec := costGet(t, a, "GET", "/v1/cost/tables", "")
	var got []traffic.TableInfo
	json.Unmarshal(rec.Body.Bytes(), &got)
	defaults := 0
	for _, ti := range got {
		if ti.Default {
			defaults++
		}
	}
	if rec.Code != 200 || len(got) != len(cost.Tables()) || defaults != 1 {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
