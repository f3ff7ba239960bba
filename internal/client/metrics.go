package client

import (
	"context"
	"net/url"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// MetricsQuery selects a metric's points. Since is the window back from
// now (1h if neither it nor From is set); From and To bound it instead.
// Step 0 answers the native resolution (10 s within 48 h, 5 min before).
type MetricsQuery struct {
	Metric   string
	Instance string // "" for the stage as a whole
	Since    time.Duration
	From, To time.Time
	Step     time.Duration
}

// Metrics returns a stage's (or an instance's) metric over a window.
func (c *Client) Metrics(ctx context.Context, stack, stage string, q MetricsQuery) (core.MetricSeries, error) {
	v := url.Values{"metric": {q.Metric}}
	if q.Instance != "" {
		v.Set("instance", q.Instance)
	}
	if q.Since > 0 {
		v.Set("since", q.Since.String())
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	var out core.MetricSeries
	return out, c.do(ctx, "GET", stagePath(stack, stage)+"/metrics?"+v.Encode(), nil, "", &out)
}

// MetricNames lists the stored metrics with their units and kinds.
func (c *Client) MetricNames(ctx context.Context) ([]core.MetricInfo, error) {
	var out []core.MetricInfo
	return out, c.do(ctx, "GET", "/v1/metrics", nil, "", &out)
}
