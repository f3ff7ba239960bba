package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

// fakeAlarms records what the API passes on.
type fakeAlarms struct {
	stack string
	spec  core.AlarmSpec
	urls  []string
}

func (f *fakeAlarms) Create(_ context.Context, stack string, spec core.AlarmSpec) (core.Alarm, error) {
	f.stack, f.spec = stack, spec
	if spec.Metric == "nope" {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "unknown metric %q: use one of requests, errors", spec.Metric)
	}
	return core.Alarm{ID: "a1", Name: "slow", Stack: stack, Stage: spec.Stage, Metric: spec.Metric}, nil
}
func (f *fakeAlarms) List(_ context.Context, stack string) ([]core.Alarm, error) {
	f.stack = stack
	return []core.Alarm{}, nil
}
func (f *fakeAlarms) History(_ context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error) {
	return []core.AlarmEvent{{Stack: stack, Alarm: alarm, Attempts: limit}}, nil
}
func (f *fakeAlarms) Delete(_ context.Context, stack, alarm string) error {
	return core.Errorf(core.CodeNotFound, "stack %q has no alarm %q", stack, alarm)
}
func (f *fakeAlarms) SetWebhooks(_ context.Context, stack string, urls []string) ([]string, error) {
	f.stack, f.urls = stack, urls
	return []string{"https://h.example/x?redacted"}, nil
}

type fakeTop struct{}

func (fakeTop) Snapshot(_ context.Context, stack string) (core.Top, error) {
	return core.Top{Stages: []core.StageFigures{{Stack: stack, Stage: "dev", RequestsPerS: 2}}}, nil
}

func call(a *API, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

func TestAlarmRoutes(t *testing.T) {
	a := newTestAPI()
	if rec := call(a, "GET", "/v1/alarms", ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "alarms are not available") {
		t.Fatalf("without alarms: %d %s", rec.Code, rec.Body)
	}
	f := &fakeAlarms{}
	a.SetAlarms(f, fakeTop{})

	rec := call(a, "POST", "/v1/stacks/hello/alarms", `{"stage":"prod","metric":"p99_latency_ms","comparison":"above","threshold":500,"period":"1m","for":3,"notify":["https://h.example/x"]}`)
	want := core.AlarmSpec{Stage: "prod", Metric: "p99_latency_ms", Comparison: "above", Threshold: 500, Period: "1m", For: 3, Notify: []string{"https://h.example/x"}}
	if rec.Code != http.StatusCreated || f.stack != "hello" || !reflect.DeepEqual(f.spec, want) {
		t.Fatalf("create: %d %s, passed %s %+v", rec.Code, rec.Body, f.stack, f.spec)
	}
	rec = call(a, "POST", "/v1/stacks/hello/alarms", `{"stage":"prod","metric":"nope"}`)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "use one of requests, errors") {
		t.Fatalf("invalid: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "POST", "/v1/stacks/hello/alarms", `{"above":1}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/v1/alarms?stack=hello", ""); rec.Code != 200 || f.stack != "hello" || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "GET", "/v1/stacks/hello/alarm-history?alarm=slow&limit=7", "")
	var evs []core.AlarmEvent
	json.Unmarshal(rec.Body.Bytes(), &evs)
	if rec.Code != 200 || len(evs) != 1 || evs[0].Alarm != "slow" || evs[0].Attempts != 7 {
		t.Fatalf("history: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/v1/stacks/hello/alarm-history?limit=0", ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("history limit 0: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "DELETE", "/v1/stacks/hello/alarms/nope", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "PUT", "/v1/stacks/hello/alarm-webhooks", `{"urls":["https://h.example/x?sig=1"]}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "?redacted") || !reflect.DeepEqual(f.urls, []string{"https://h.example/x?sig=1"}) {
		t.Fatalf("webhooks: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "GET", "/v1/top?stack=hello", "")
	var top core.Top
	json.Unmarshal(rec.Body.Bytes(), &top)
	if rec.Code != 200 || len(top.Stages) != 1 || top.Stages[0].Stack != "hello" || top.Stages[0].RequestsPerS != 2 {
		t.Fatalf("top: %d %s", rec.Code, rec.Body)
	}
}
