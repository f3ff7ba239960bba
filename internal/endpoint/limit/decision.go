package limit

import (
	"net/http"
	"strconv"
	"time"
)

// API Gateway's bodies for its 429s, byte for byte.
var (
	bodyTooManyRequests = []byte(`{"message":"Too Many Requests"}`)
	bodyLimitExceeded   = []byte(`{"message":"Limit Exceeded"}`)
)

// WriteDecision answers a refused request as API Gateway does: 429 with
// {"message":"Too Many Requests"} over a rate or {"message":"Limit
// Exceeded"} over a quota, and Retry-After in whole seconds, rounded up
// and at least 1. It writes nothing for an admitted request.
func WriteDecision(w http.ResponseWriter, d Decision) {
	if d.OK {
		return
	}
	body, retryAfter := Answer(d)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Retry-After", retryAfter)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
}

// Answer is the body and the Retry-After value of WriteDecision's 429
// for a refused request.
func Answer(d Decision) (body []byte, retryAfter string) {
	body = bodyTooManyRequests
	if d.Reason == ReasonQuota {
		body = bodyLimitExceeded
	}
	return body, strconv.FormatInt(retrySeconds(d.RetryAfter), 10)
}

// retrySeconds rounds d up to whole seconds, at least 1: "Retry-After: 0"
// invites an immediate retry that would be refused again.
func retrySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}
