package jwtauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// API Gateway's bodies for a refused request.
const (
	unauthorizedBody = `{"message":"Unauthorized"}`
	forbiddenBody    = `{"message":"Forbidden"}`
)

type resultKey struct{}

// NewContext returns ctx carrying res.
func NewContext(ctx context.Context, res Result) context.Context {
	return context.WithValue(ctx, resultKey{}, res)
}

// FromContext returns the Result Middleware stored in ctx.
func FromContext(ctx context.Context) (Result, bool) {
	res, ok := ctx.Value(resultKey{}).(Result)
	return res, ok
}

// Middleware authorizes each request: refusals get API Gateway's 401
// or 403 body; authorized requests reach next with their Result in the
// context (FromContext).
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := a.Authorize(r.Context(), r)
		if err != nil {
			a.logger.Debug("request refused", "path", r.URL.Path, "err", err)
			writeRefusal(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), res)))
	})
}

// writeRefusal is the one place a refusal becomes a response.
func writeRefusal(w http.ResponseWriter, err error) {
	status, body := http.StatusUnauthorized, unauthorizedBody
	if errors.Is(err, ErrForbidden) {
		status, body = http.StatusForbidden, forbiddenBody
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
