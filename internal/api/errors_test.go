package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestWriteError(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   core.Code
		msg    string
	}{
		{core.Errorf(core.CodeInvalid, "bad name"), 400, core.CodeInvalid, "bad name"},
		{fmt.Errorf("get: %w", core.Errorf(core.CodeNotFound, "unknown stack \"x\"")), 404, core.CodeNotFound, "unknown stack \"x\""},
		{core.Errorf(core.CodeConflict, "exists"), 409, core.CodeConflict, "exists"},
		{core.Errorf(core.CodeUnauthorized, "no token"), 401, core.CodeUnauthorized, "no token"},
		{core.Errorf(core.CodeUnavailable, "docker down"), 503, core.CodeUnavailable, "docker down"},
		{core.Errorf(core.CodeBuildFailed, "step 2 failed").WithDetails([]string{"a", "b"}), 422, core.CodeBuildFailed, "step 2 failed"},
		{core.Errorf(core.CodeDeployFailed, "never healthy"), 422, core.CodeDeployFailed, "never healthy"},
		{core.Errorf(core.CodeTimedOut, "build.yml phase build timed out after 2s"), 422, core.CodeTimedOut, "build.yml phase build timed out after 2s"},
		{core.Errorf(core.CodeThrottled, "at max_instances"), 429, core.CodeThrottled, "at max_instances"},
		{core.Errorf(core.CodeFunction, "the function failed"), 502, core.CodeFunction, "the function failed"},
		{errors.New("disk on fire"), 500, core.CodeInternal, "disk on fire"},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		writeError(rec, slog.New(slog.DiscardHandler), tc.err)
		if rec.Code != tc.status {
			t.Errorf("%v: status %d, want %d", tc.err, rec.Code, tc.status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%v: content type %q", tc.err, ct)
		}
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", tc.err, rec.Body, err)
		}
		if body.Error.Code != tc.code || body.Error.Message != tc.msg {
			t.Errorf("%v: body %+v", tc.err, body)
		}
		if tc.status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	rec := httptest.NewRecorder()
	writeError(rec, slog.New(slog.DiscardHandler), core.Errorf(core.CodeBuildFailed, "x").WithDetails([]string{"l1", "l2"}))
	var body ErrorBody
	json.Unmarshal(rec.Body.Bytes(), &body)
	if len(body.Error.Details) != 2 {
		t.Errorf("details lost: %+v", body)
	}
}
