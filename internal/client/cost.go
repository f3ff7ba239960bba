package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
	"github.com/slipwayhq/slipway/internal/traffic"
)

// The cost API's types, re-exported so the CLI needs no other package.
type (
	StageCost       = traffic.StageCost
	StageComparison = traffic.StageComparison
	SpecCost        = traffic.SpecCost
	CostTable       = traffic.TableInfo
	CostEstimate    = cost.Estimate
	CostLineItem    = cost.LineItem
	CostStage       = cost.Stage
	StackSpec       = core.StackSpec
)

// CostQuery is a cost request's traffic profile and price table, as the
// user typed them (the server parses and checks them): figures ("" for
// the defaults), or FromUsage, a window of the stage's metered usage.
type CostQuery struct {
	Requests, Duration                string
	RequestBytes, ResponseBytes       string
	PeakConcurrency                   string
	NewConnections, ActiveConnections string
	Table                             string
	FromUsage                         string
	Stage                             string // for a stack's compare and plot: "" for the first stage
}

func (q CostQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"requests": q.Requests, "duration": q.Duration, "request_bytes": q.RequestBytes,
		"response_bytes": q.ResponseBytes, "peak_concurrency": q.PeakConcurrency, "new_connections": q.NewConnections,
		"active_connections": q.ActiveConnections, "table": q.Table, "from_usage": q.FromUsage, "stage": q.Stage} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// StageCost estimates a stage's monthly cost on AWS.
func (c *Client) StageCost(ctx context.Context, stack, stage string, q CostQuery) (StageCost, error) {
	v := q.values()
	v.Del("stage")
	var out StageCost
	return out, c.do(ctx, "GET", withQuery(stagePath(stack, stage)+"/cost", v), nil, "", &out)
}

// CompareCost prices a stage (q.Stage, or the first) in the four
// architecture × endpoint combinations.
func (c *Client) CompareCost(ctx context.Context, stack string, q CostQuery) (StageComparison, error) {
	var out StageComparison
	return out, c.do(ctx, "GET", withQuery("/v1/stacks/"+url.PathEscape(stack)+"/cost/compare", q.values()), nil, "", &out)
}

// CostPlot returns the SVG chart of monthly cost against requests/month
// for a stack's stage, or for a default stage when stack is "".
func (c *Client) CostPlot(ctx context.Context, stack string, q CostQuery) ([]byte, error) {
	path := "/v1/cost/plot.svg"
	if stack != "" {
		path = "/v1/stacks/" + url.PathEscape(stack) + "/cost/plot.svg"
	}
	resp, err := c.send(ctx, "GET", withQuery(path, q.values()), nil, "", "image/svg+xml")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read the plot: %w", err)
	}
	return data, nil
}

// EstimateConfig estimates every stage of a stack config (ReadManifest's
// result) before it is deployed.
func (c *Client) EstimateConfig(ctx context.Context, spec StackSpec, q CostQuery) (SpecCost, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return SpecCost{}, fmt.Errorf("encode the config: %w", err)
	}
	v := q.values()
	v.Del("stage")
	v.Del("from_usage")
	var out SpecCost
	return out, c.do(ctx, "POST", withQuery("/v1/cost/estimate", v), bytes.NewReader(body), "application/json", &out)
}

// CostTables lists the price tables.
func (c *Client) CostTables(ctx context.Context) ([]CostTable, error) {
	var out []CostTable
	return out, c.do(ctx, "GET", "/v1/cost/tables", nil, "", &out)
}
