package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestHandler(t *testing.T) {
	ts := newTestStore(t, "", 0)
	for range 8 {
		ts.ObserveRequest(req(200, 3))
	}
	ts.ObserveRequest(Request{Stack: "shop", Stage: "prod", Status: 429, Throttled: true})
	ts.ObserveRequest(req(502, 2000))
	ts.Add(Key{Stack: "shop", Metric: BuildsFailed}, 1)
	ts.Add(Key{Stack: "shop", Stage: "prod", Metric: ReleasesSucceeded}, 2)
	ts.Add(Key{Stack: "shop", Stage: "prod", Metric: GBSeconds}, 0.5)
	ts.Set(Key{Stack: "shop", Stage: "prod", Metric: Instances}, 2)
	ts.Set(Key{Stack: "shop", Stage: "prod", Instance: "shop-prod-1", Metric: MemoryMB}, 64)
	h := ts.Handler(TokenChecker("admin", "scrape"))

	for _, tok := range []string{"", "Bearer wrong", "scrape"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tok != "" {
			r.Header.Set("Authorization", tok)
		}
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", tok, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Authorization", "Bearer scrape")
	h.ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	for _, want := range []string{
		`slipway_requests_total{code_class="2xx",stack="shop",stage="prod"} 8`,
		`slipway_requests_total{code_class="4xx",stack="shop",stage="prod"} 1`,
		`slipway_requests_total{code_class="5xx",stack="shop",stage="prod"} 1`,
		`slipway_throttles_total{stack="shop",stage="prod"} 1`,
		`slipway_request_duration_seconds_count{stack="shop",stage="prod"} 10`,
		`slipway_request_duration_seconds_bucket{stack="shop",stage="prod",le="0.0032"} 9`, // 8 and the throttled one,
		`slipway_request_duration_seconds_bucket{stack="shop",stage="prod",le="+Inf"} 10`,
		`slipway_builds_total{result="failed",stack="shop"} 1`,
		`slipway_releases_total{result="succeeded",stack="shop",stage="prod"} 2`,
		`slipway_gb_seconds_total{stack="shop",stage="prod"} 0.5`,
		`slipway_instances{stack="shop",stage="prod"} 2`,
		`slipway_instance_memory_bytes{instance="shop-prod-1",stack="shop",stage="prod"} 6.7108864e+07`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s\n%s", want, body)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	// A gauge of an instance no longer sampled goes away.
	ts.now = ts.now.Add(time.Minute)
	ts.tick()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if strings.Contains(rec.Body.String(), "slipway_instance_memory_bytes{") {
		t.Error("a gone instance's memory is still exposed")
	}
}
