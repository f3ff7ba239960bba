package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/slipwayhq/slipway/internal/api/status"
	"github.com/slipwayhq/slipway/internal/core"
)

// statusOf maps a domain error code to its HTTP status (package status
// holds the mapping, which the dashboard shares).
func statusOf(code core.Code) int { return status.Of(code) }

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    core.Code `json:"code"`
	Message string    `json:"message"`
	Details []string  `json:"details,omitempty"`
}

// writeError answers with err's status and JSON body. Internal errors are
// logged in full and shown to the client without their cause's detail
// beyond its message.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	body := ErrorBody{Error: ErrorDetail{Code: core.CodeOf(err), Message: err.Error()}}
	var de *core.Error
	if errors.As(err, &de) {
		body.Error.Message, body.Error.Details = de.Error(), de.Details
	}
	status := statusOf(body.Error.Code)
	if status == http.StatusInternalServerError {
		log.Error("request failed", "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
