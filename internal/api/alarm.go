package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/slipwayhq/slipway/internal/core"
)

// Alarms is what the API needs of the alarms (alarm.Manager).
type Alarms interface {
	Create(ctx context.Context, stack string, spec core.AlarmSpec) (core.Alarm, error)
	List(ctx context.Context, stack string) ([]core.Alarm, error)
	History(ctx context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error)
	Delete(ctx context.Context, stack, alarm string) error
	SetWebhooks(ctx context.Context, stack string, urls []string) ([]string, error)
}

// Top answers every stage's current figures (top.Top).
type Top interface {
	Snapshot(ctx context.Context, stack string) (core.Top, error)
}

// SetAlarms gives the API the alarms and the current figures; without
// them their routes answer unavailable. Call before serving.
func (a *API) SetAlarms(al Alarms, top Top) { a.alarms, a.top = al, top }

// WebhooksRequest is the body of PUT .../alarm-webhooks and its answer
// (redacted).
type WebhooksRequest struct {
	URLs []string `json:"urls"`
}

var (
	pAlarm  = param{"alarm", "path", "alarm ID or name, e.g. a3"}
	pAlarmQ = param{"alarm", "query", "only this alarm's (ID or name)"}
)

func (a *API) alarmRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v1/stacks/{stack}/alarms", summary: "Create a metric alarm on a stage: metric, above or below a threshold for N periods, webhooks to notify", request: jsonType, response: jsonType, status: 201, params: []param{pStack}, handle: a.createAlarm},
		{method: "GET", pattern: "/v1/alarms", summary: "Alarms (metric and built-in) with their state; webhook URLs redacted", response: jsonType, status: 200, params: []param{pStackQ}, handle: a.listAlarms},
		{method: "DELETE", pattern: "/v1/stacks/{stack}/alarms/{alarm}", summary: "Delete a metric alarm with its history", status: 204, params: []param{pStack, pAlarm}, handle: a.deleteAlarm},
		{method: "GET", pattern: "/v1/stacks/{stack}/alarm-history", summary: "A stack's alarm history (state changes and webhook deliveries), newest first", response: jsonType, status: 200, params: []param{pStack, pAlarmQ, pLimit}, handle: a.alarmHistory},
		{method: "PUT", pattern: "/v1/stacks/{stack}/alarm-webhooks", summary: "Set the webhooks a stack's built-in alarms notify (failed builds and releases, crash loops); an empty list clears them", request: jsonType, response: jsonType, status: 200, params: []param{pStack}, handle: a.setAlarmWebhooks},
		{method: "GET", pattern: "/v1/top", summary: "Every stage's current figures: requests/s, p99 latency, 5xx errors, CPU, instances", response: jsonType, status: 200, params: []param{pStackQ}, handle: a.getTop},
	}
}

func (a *API) alarmsOn() error {
	if a.alarms == nil || a.top == nil {
		return core.Errorf(core.CodeUnavailable, "alarms are not available on this server")
	}
	return nil
}

func (a *API) createAlarm(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	var spec core.AlarmSpec
	if err := decode(r, &spec); err != nil {
		return err
	}
	al, err := a.alarms.Create(r.Context(), r.PathValue("stack"), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, al)
	return nil
}

func (a *API) listAlarms(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	list, err := a.alarms.List(r.Context(), r.URL.Query().Get("stack"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) deleteAlarm(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	if err := a.alarms.Delete(r.Context(), r.PathValue("stack"), r.PathValue("alarm")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) alarmHistory(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return core.Errorf(core.CodeInvalid, "limit must be a number from 1 to 1000, got %q", v)
		}
		limit = n
	}
	evs, err := a.alarms.History(r.Context(), r.PathValue("stack"), r.URL.Query().Get("alarm"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, evs)
	return nil
}

func (a *API) setAlarmWebhooks(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	var req WebhooksRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	urls, err := a.alarms.SetWebhooks(r.Context(), r.PathValue("stack"), req.URLs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WebhooksRequest{URLs: urls})
	return nil
}

func (a *API) getTop(w http.ResponseWriter, r *http.Request) error {
	if err := a.alarmsOn(); err != nil {
		return err
	}
	snap, err := a.top.Snapshot(r.Context(), r.URL.Query().Get("stack"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, snap)
	return nil
}
