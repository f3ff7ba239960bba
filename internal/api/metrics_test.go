package api

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/telemetry"
)

func TestMetricsWindow(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		since, from, to, step string
		wantFrom, wantTo      time.Time
		wantStep              time.Duration
		wantErr               string
	}{
		{wantFrom: now.Add(-time.Hour), wantTo: now},
		{since: "24h", step: "5m", wantFrom: now.Add(-24 * time.Hour), wantTo: now, wantStep: 5 * time.Minute},
		{from: "2026-11-22T09:00:00Z", to: "2026-11-22T10:00:00Z", step: "0", wantFrom: now.Add(-3 * time.Hour), wantTo: now.Add(-2 * time.Hour)},
		{since: "yesterday", wantErr: "invalid since"},
		{since: "-1h", wantErr: "invalid since"},
		{since: "1h", from: "2026-11-22T09:00:00Z", wantErr: "not both"},
		{from: "9am", wantErr: "invalid from"},
		{from: "2026-11-22T13:00:00Z", wantErr: "empty"},
		{since: "2400h", wantErr: "over 90 days"},
		{step: "15s", wantErr: "multiple of 10s"},
		{step: "1s", wantErr: "multiple of 10s"},
		{since: "2000h", step: "10s", wantErr: "over the limit"},
	}
	for _, tt := range tests {
		from, to, step, err := metricsWindow(tt.since, tt.from, tt.to, tt.step, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v: err %v, want one saying %q", tt, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !from.Equal(tt.wantFrom) || !to.Equal(tt.wantTo) || step != tt.wantStep {
			t.Errorf("%+v: got %s %s %s %v", tt, from, to, step, err)
		}
	}
}

func TestMetricsRoutesNeedTokens(t *testing.T) {
	a := newTestAPI()
	st, err := telemetry.Open(telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a.SetMetrics(st, st.Handler(telemetry.TokenChecker("s3cret", "scrape")))
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", 401},
		{"/metrics", "Bearer nope", 401},
		{"/metrics", "Bearer scrape", 200},
		{"/metrics", "Bearer s3cret", 200},
		{"/v1/metrics", "Bearer scrape", 401}, // the scrape token opens /metrics only
		{"/v1/stacks/hello/stages/dev/metrics?metric=requests", "Bearer scrape", 401},
		{"/v1/metrics", "Bearer s3cret", 200},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.auth, rec.Code, tc.want)
		}
	}
}
