// Package status is the one place a domain error's code becomes an HTTP
// status, shared by the JSON API and the dashboard's pages (which the
// API's package itself imports, so the mapping cannot live there).
package status

import (
	"net/http"

	"github.com/slipwayhq/slipway/internal/core"
)

// Of is the HTTP status of a domain error code.
func Of(code core.Code) int {
	switch code {
	case core.CodeInvalid:
		return http.StatusBadRequest
	case core.CodeNotFound:
		return http.StatusNotFound
	case core.CodeConflict:
		return http.StatusConflict
	case core.CodeUnauthorized:
		return http.StatusUnauthorized
	case core.CodeUnavailable:
		return http.StatusServiceUnavailable
	case core.CodeBuildFailed, core.CodeDeployFailed, core.CodeTimedOut:
		return http.StatusUnprocessableEntity
	case core.CodeThrottled:
		return http.StatusTooManyRequests
	case core.CodeFunction:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// OfError is the HTTP status of err, by its domain code.
func OfError(err error) int { return Of(core.CodeOf(err)) }
