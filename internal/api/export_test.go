package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
)

// fakeExports is a Service whose only working method is Export.
type fakeExports struct {
	Service
	stack string
	req   service.ExportRequest
}

func (f *fakeExports) Export(_ context.Context, stack string, req service.ExportRequest) (service.ExportResult, error) {
	f.stack, f.req = stack, req
	if req.Format != "cloudformation" {
		return service.ExportResult{}, core.Errorf(core.CodeInvalid, "unknown export format %q; allowed: cloudformation", req.Format)
	}
	return service.ExportResult{Stack: stack, Format: req.Format, Files: []service.ExportFile{
		{Name: stack + "-shared.json", Data: "{}\n", Warnings: []string{"w"}},
	}}, nil
}

func TestExportRoute(t *testing.T) {
	f := &fakeExports{}
	a := New(f, "s3cret", Info{Version: "test"}, slog.New(slog.DiscardHandler))
	rec := call(a, "GET", "/v1/stacks/shop/export?format=cloudformation&stage=prod&include_secrets=true", "")
	var res service.ExportResult
	json.Unmarshal(rec.Body.Bytes(), &res)
	want := service.ExportRequest{Format: "cloudformation", Stage: "prod", IncludeSecrets: true}
	if rec.Code != 200 || f.stack != "shop" || f.req != want || len(res.Files) != 1 || res.Files[0].Data != "{}\n" || res.Files[0].Warnings[0] != "w" {
		t.Fatalf("export: %d %s, passed %s %+v", rec.Code, rec.Body, f.stack, f.req)
	}
	for _, c := range []struct{ query, want string }{
		{"", "format is missing"},
		{"?format=cloudformation&include_secrets=yes", `include_secrets "yes" is not a boolean`},
		{"?format=nomad", `unknown export format "nomad"`},
	} {
		rec := call(a, "GET", "/v1/stacks/shop/export"+c.query, "")
		var body ErrorBody
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(body.Error.Message, c.want) {
			t.Errorf("%q: %d %s", c.query, rec.Code, rec.Body)
		}
	}
}
