// Package api serves Slipway's /v1 control API: it authenticates, decodes,
// calls the service and encodes. One route table drives both the mux and
// the OpenAPI document, and one function (writeError) turns domain errors
// into status codes, so neither can drift.
package api
