package server

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry"
)

func TestRequestMetricThrottled(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		attempts int
		want     bool
	}{
		{"the gateway's own 429 (plan, quota, serverless queue)", 429, 0, true},
		{"an app's 429", 429, 1, false},
		{"a 502 without an instance", 502, 0, false},
		{"a 200", 200, 1, false},
	}
	for _, tt := range tests {
		r := requestMetric(gateway.RequestInfo{Stack: "s", Stage: "dev", Status: tt.status, Attempts: tt.attempts, Duration: time.Millisecond})
		if r.Throttled != tt.want {
			t.Errorf("%s: throttled = %v, want %v", tt.name, r.Throttled, tt.want)
		}
	}
}

func TestCountOutcome(t *testing.T) {
	now := time.Now()
	m, err := telemetry.Open(telemetry.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []service.Outcome{
		{Stack: "s", Build: "b1", Succeeded: true},
		{Stack: "s", Build: "b2"},
		{Stack: "s", Build: "b3"},
		{Stack: "s", Stage: "dev", Build: "b1", Release: "r1", Succeeded: true},
		{Stack: "s", Stage: "dev", Build: "b2", Release: "r2"},
	} {
		countOutcome(m, o)
	}
	now = now.Add(telemetry.FineStep)
	m.Close() // closes the window
	tests := []struct {
		key  telemetry.Key
		want float64
	}{
		{telemetry.Key{Stack: "s", Metric: telemetry.BuildsSucceeded}, 1},
		{telemetry.Key{Stack: "s", Metric: telemetry.BuildsFailed}, 2},
		{telemetry.Key{Stack: "s", Stage: "dev", Metric: telemetry.ReleasesSucceeded}, 1},
		{telemetry.Key{Stack: "s", Stage: "dev", Metric: telemetry.ReleasesFailed}, 1},
	}
	for _, tt := range tests {
		var sum float64
		for _, p := range m.Query(tt.key, now.Add(-time.Minute), now.Add(time.Minute), 0) {
			sum += p.V
		}
		if sum != tt.want {
			t.Errorf("%s: %v, want %v", tt.key.Metric, sum, tt.want)
		}
	}
}
