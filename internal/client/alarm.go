package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/slipwayhq/slipway/internal/core"
)

// The alarms API's types.
type (
	Alarm        = core.Alarm
	AlarmSpec    = core.AlarmSpec
	AlarmEvent   = core.AlarmEvent
	Top          = core.Top
	StageFigures = core.StageFigures
)

// Alarm states and history entry types.
const (
	AlarmOK               = core.AlarmOK
	AlarmAlarm            = core.AlarmAlarm
	AlarmInsufficientData = core.AlarmInsufficientData
	AlarmStateChange      = core.AlarmStateChange
	AlarmDelivery         = core.AlarmDelivery
)

// CreateAlarm creates a metric alarm on a stage of stack.
func (c *Client) CreateAlarm(ctx context.Context, stack string, spec AlarmSpec) (Alarm, error) {
	var out Alarm
	body, _ := json.Marshal(spec)
	return out, c.do(ctx, "POST", "/v1/stacks/"+url.PathEscape(stack)+"/alarms", bytes.NewReader(body), "application/json", &out)
}

// Alarms lists a stack's alarms (every stack's if stack is ""), built-in
// ones included.
func (c *Client) Alarms(ctx context.Context, stack string) ([]Alarm, error) {
	var out []Alarm
	return out, c.do(ctx, "GET", "/v1/alarms?stack="+url.QueryEscape(stack), nil, "", &out)
}

// AlarmHistory lists a stack's alarm history (one alarm's, by ID or
// name, if alarm is not ""), newest first.
func (c *Client) AlarmHistory(ctx context.Context, stack, alarm string, limit int) ([]AlarmEvent, error) {
	var out []AlarmEvent
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if alarm != "" {
		q.Set("alarm", alarm)
	}
	return out, c.do(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/alarm-history?"+q.Encode(), nil, "", &out)
}

// DeleteAlarm deletes a metric alarm by ID or name.
func (c *Client) DeleteAlarm(ctx context.Context, stack, alarm string) error {
	return c.do(ctx, "DELETE", "/v1/stacks/"+url.PathEscape(stack)+"/alarms/"+url.PathEscape(alarm), nil, "", nil)
}

// SetAlarmWebhooks sets the webhooks a stack's built-in alarms notify
// (none clears them) and returns them redacted.
func (c *Client) SetAlarmWebhooks(ctx context.Context, stack string, urls []string) ([]string, error) {
	var out struct {
		URLs []string `json:"urls"`
	}
	if urls == nil {
		urls = []string{}
	}
	body, _ := json.Marshal(map[string][]string{"urls": urls})
	return out.URLs, c.do(ctx, "PUT", "/v1/stacks/"+url.PathEscape(stack)+"/alarm-webhooks", bytes.NewReader(body), "application/json", &out)
}

// Top returns every stage's current figures (one stack's if stack is
// not "").
func (c *Client) Top(ctx context.Context, stack string) (Top, error) {
	var out Top
	return out, c.do(ctx, "GET", "/v1/top?stack="+url.QueryEscape(stack), nil, "", &out)
}
