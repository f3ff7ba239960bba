package api

import (
	"context"
	"net/http"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
)

// Exports is what the export route needs of the service.
type Exports interface {
	Export(ctx context.Context, stack string, req service.ExportRequest) (service.ExportResult, error)
}

var _ Exports = (*service.Service)(nil)

var (
	pExportFormat  = param{"format", "query", "cloudformation or kubernetes (required)"}
	pExportStage   = param{"stage", "query", "only this stage (default every stage)"}
	pExportSecrets = param{"include_secrets", "query", "true to put secret values in the files (default: names only)"}
)

func (a *API) exportRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/stacks/{stack}/export", summary: "The stack as another platform's files (AWS CloudFormation templates, Kubernetes manifests): {stack, format, files: [{name, data, warnings}]}", response: jsonType, status: 200, params: []param{pStack, pExportFormat, pExportStage, pExportSecrets}, handle: a.export},
	}
}

func (a *API) export(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := service.ExportRequest{Format: q.Get("format"), Stage: q.Get("stage")}
	switch q.Get("include_secrets") {
	case "", "false":
	case "true":
		req.IncludeSecrets = true
	default:
		return core.Errorf(core.CodeInvalid, "include_secrets %q is not a boolean; allowed: true, false", q.Get("include_secrets"))
	}
	if req.Format == "" {
		return core.Errorf(core.CodeInvalid, "format is missing; allowed: cloudformation, kubernetes")
	}
	res, err := a.svc.Export(r.Context(), r.PathValue("stack"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
