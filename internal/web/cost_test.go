package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCostPage(t *testing.T) {
	srv, _, _ := newTestDashboard(t)
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
	if !strings.Contains(body, "no access log: assuming 1 KB per request and 10 KB per response") {
		t.Error("without a ResponseSizer the page does not assume the default sizes")
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

func (quietMetrics) Series(stack, stage, metric string, from, to time.Time, step time.Duration) []Point {
	return nil
}

type noLogs struct{}

func (noLogs) ReadLogs(ctx context.Context, q LogQuery) ([]LogLine, error) { return nil, nil }

// sizedLogs also says the mean response size.
type sizedLogs struct {
	noLogs
	asked []string
}

func (s *sizedLogs) ResponseBytes(ctx context.Context, stack, stage string, since time.Time, limit int) (float64, int, error) {
	s.asked = append(s.asked, fmt.Sprintf("%s/%s since %s, %d", stack, stage, since.Format(time.RFC3339), limit))
	return 2048, 7, nil
}

func TestCostPageResponseSizes(t *testing.T) {
	logs := &sizedLogs{}
	d, err := New(Config{Service: &fakeService{}, Metrics: fakeMetrics{}, Logs: logs, Token: testToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := browser(t)
	login(t, srv, c)
	_, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/cost")
	if !strings.Contains(body, "mean response 2 KB over the last 7 access log entries") {
		t.Errorf("the page does not use the metered response size:\n%s", body)
	}
	if want := "shop/dev since 2026-11-21T10:00:00Z, 10000"; len(logs.asked) != 1 || logs.asked[0] != want {
		t.Errorf("asked %q, want %q", logs.asked, want)
	}
}

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
