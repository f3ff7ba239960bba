package web

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCostPage(t *testing.T) {
	srv, _, logs := newTestDashboard(t)
	c := browser(t)
	login(t, srv, c)
	resp, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/prod/cost")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{"prod <span class=\"muted\">cost on AWS</span>", "Default profile: <span class=\"total\">$",
		// fakeMetrics meters 8 requests a minute ("requests" has 8 letters): the page estimates from them too.
		"Last 24 hours, extrapolated to 30 days", "from 24h of metered usage: 11520 requests, extrapolated × 30 to 30 days",
		"assuming 1M requests/month", `<svg class="chart cost"`, "container+balancer", "<td>Fargate</td>", "× $", `class="recommendation"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the cost page lacks %q", want)
		}
	}
	if n := strings.Count(body, "<path class=\"series"); n != 4 {
		t.Errorf("%d lines in the chart, want 4", n)
	}
	if strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
		t.Error("inline style or script")
	}
	if q := logs.q[len(logs.q)-1]; q.Kind != "access" || q.Stage != "prod" || q.Limit != accessSample {
		t.Errorf("access log query %+v", q)
	}
	if resp, _ := get(t, c, srv.URL+"/ui/stacks/shop/stages/qa/cost"); resp.StatusCode != 404 {
		t.Errorf("unknown stage: %d", resp.StatusCode)
	}
	if _, body := get(t, c, srv.URL+"/ui/stacks/shop"); !strings.Contains(body, `href="/ui/stacks/shop/stages/dev/cost"`) {
		t.Error("the stack page does not link the stage's cost")
	}
}

// quietMetrics meters nothing.
type quietMetrics struct{}

func (quietMetrics) Series(stack, stage, metric string, from, to time.Time, step time.Duration) []Point { return nil }

type noLogs struct{}

func (noLogs) ReadLogs(ctx context.Context, q LogQuery) ([]LogLine, error) { return nil, nil }

func TestCostPageWithoutTraffic(t *testing.T) {
	d, err := New(Config{Service: &fakeService{}, Metrics: quietMetrics{}, Logs: noLogs{}, Token: testToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := browser(t)
	login(t, srv, c)
	_, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/cost")
	if !strings.Contains(body, "No requests in the last 24 hours.") || strings.Contains(body, "Last 24 hours, extrapolated") || !strings.Contains(body, "Default profile") {
		t.Errorf("a stage without traffic:\n%s", body)
	}
}
