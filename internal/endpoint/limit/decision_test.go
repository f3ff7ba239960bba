package limit

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestWriteDecision(t *testing.T) {
	cases := []struct {
		name       string
		d          Decision
		status     int
		body       string
		retryAfter string
	}{
		{"admitted writes nothing", Decision{OK: true, Remaining: 3}, 200, "", ""},
		{"rate", Decision{Reason: ReasonRate, RetryAfter: 20 * time.Millisecond, Remaining: -1}, 429, `{"message":"Too Many Requests"}`, "1"},
		{"rate rounds up", Decision{Reason: ReasonRate, RetryAfter: 2*time.Second + time.Nanosecond}, 429, `{"message":"Too Many Requests"}`, "3"},
		{"rate whole seconds", Decision{Reason: ReasonRate, RetryAfter: 10 * time.Second}, 429, `{"message":"Too Many Requests"}`, "10"},
		{"rate already refilled", Decision{Reason: ReasonRate}, 429, `{"message":"Too Many Requests"}`, "1"},
		{"quota until the period ends", Decision{Reason: ReasonQuota, RetryAfter: 90 * time.Minute}, 429, `{"message":"Limit Exceeded"}`, "5400"},
		{"quota a month away", Decision{Reason: ReasonQuota, RetryAfter: 31*24*time.Hour - time.Millisecond}, 429, `{"message":"Limit Exceeded"}`, "2678400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteDecision(rec, tc.d)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.body)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.status == 429 && rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}
