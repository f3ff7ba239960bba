package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// alarms exercises the alarm rules, states, history and webhooks, and
// DeleteStack removing them.
func alarms(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	rule := func(stack, id, name string) core.Alarm {
		return core.Alarm{ID: id, Name: name, Stack: stack, Stage: "prod", Kind: core.AlarmMetric, Metric: "p99_latency_ms",
			Comparison: "above", Threshold: 500, Period: core.Duration(time.Minute), For: 3, Notify: []string{"http://hook.example/x"}, CreatedAt: t0}
	}
	t.Run("rules and states", func(t *testing.T) {
		s := newStore(t)
		if got, err := s.ListAlarms(ctx, ""); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("empty store: %#v, %v; want an empty list", got, err)
		}
		must(t, s.PutAlarm(ctx, rule("app", "a1", "slow")))
		must(t, s.PutAlarm(ctx, rule("app", "a2", "slower")))
		must(t, s.PutAlarm(ctx, rule("other", "a1", "slow")))
		if err := s.PutAlarm(ctx, rule("app", "a3", "slow")); core.CodeOf(err) != core.CodeConflict {
			t.Fatalf("second alarm named slow: got %v, want conflict", err)
		}
		got, err := s.ListAlarms(ctx, "app")
		must(t, err)
		if len(got) != 2 || got[0].ID != "a1" || got[1].ID != "a2" || got[0].Status.State != core.AlarmInsufficientData {
			t.Fatalf("app alarms: %+v", got)
		}
		if !reflect.DeepEqual(got[0].Notify, []string{"http://hook.example/x"}) || got[0].Period.D() != time.Minute || got[0].For != 3 {
			t.Fatalf("rule not kept: %+v", got[0])
		}
		if all, _ := s.ListAlarms(ctx, ""); len(all) != 3 {
			t.Fatalf("every stack's alarms: %+v", all)
		}

		st := core.AlarmStatus{State: core.AlarmAlarm, Reason: "too slow", Since: t0.Add(time.Minute)}
		ev := core.AlarmEvent{Time: st.Since, Stack: "app", Alarm: "a1", Name: "slow", Type: core.AlarmStateChange, From: core.AlarmInsufficientData, To: core.AlarmAlarm, Reason: "too slow"}
		must(t, s.SetAlarmStatus(ctx, "app", "a1", st, &ev))
		must(t, s.SetAlarmStatus(ctx, "app", "a2", core.AlarmStatus{State: core.AlarmOK, Since: t0}, nil))
		// A new rule for the same ID keeps the status.
		r := rule("app", "a1", "slow")
		r.Threshold = 700
		must(t, s.PutAlarm(ctx, r))
		got, _ = s.ListAlarms(ctx, "app")
		if got[0].Threshold != 700 || got[0].Status.State != core.AlarmAlarm || got[0].Status.Reason != "too slow" || !got[0].Status.Since.Equal(st.Since) {
			t.Fatalf("a1 after state and rule change: %+v", got[0])
		}
		if got[1].Status.State != core.AlarmOK {
			t.Fatalf("a2: %+v", got[1])
		}
		if err := s.SetAlarmStatus(ctx, "app", "nope", st, nil); !core.IsNotFound(err) {
			t.Fatalf("status of an unknown alarm: got %v, want not found", err)
		}
		must(t, s.DeleteAlarm(ctx, "app", "a1"))
		if err := s.DeleteAlarm(ctx, "app", "a1"); !core.IsNotFound(err) {
			t.Fatalf("second delete: got %v, want not found", err)
		}
		if err := s.SetAlarmStatus(ctx, "app", "a1", st, &ev); !core.IsNotFound(err) {
			t.Fatalf("status of a deleted alarm: got %v, want not found", err)
		}
		if got, _ := s.ListAlarms(ctx, "app"); len(got) != 1 || got[0].ID != "a2" {
			t.Fatalf("after delete: %+v", got)
		}
		// The name is free again, and the new alarm starts without state.
		must(t, s.PutAlarm(ctx, rule("app", "a1", "slow")))
		if got, _ := s.ListAlarms(ctx, "app"); len(got) != 2 || got[1].Status.State != core.AlarmInsufficientData {
			t.Fatalf("re-created: %+v", got)
		}
	})
	t.Run("history and webhooks", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		must(t, s.CreateStack(ctx, core.Stack{Name: "other"}))
		must(t, s.PutAlarm(ctx, rule("app", "a1", "one")))
		must(t, s.PutAlarm(ctx, rule("app", "a2", "two")))
		must(t, s.PutAlarm(ctx, rule("other", "a1", "one")))
		for i := 0; i < 5; i++ {
			must(t, s.AddAlarmEvent(ctx, core.AlarmEvent{Time: t0.Add(time.Duration(i) * time.Second), Stack: "app", Alarm: "a1", Type: core.AlarmDelivery, Attempts: i + 1}))
		}
		must(t, s.AddAlarmEvent(ctx, core.AlarmEvent{Stack: "app", Alarm: "a2", Type: core.AlarmDelivery, Attempts: 9}))
		must(t, s.AddAlarmEvent(ctx, core.AlarmEvent{Stack: "other", Alarm: "a1", Type: core.AlarmDelivery}))
		if err := s.AddAlarmEvent(ctx, core.AlarmEvent{Stack: "app", Alarm: "nope"}); !core.IsNotFound(err) {
			t.Fatalf("event of an unknown alarm: got %v, want not found", err)
		}
		evs, err := s.ListAlarmEvents(ctx, "app", "a1", 3)
		must(t, err)
		if len(evs) != 3 || evs[0].Attempts != 5 || evs[2].Attempts != 3 {
			t.Fatalf("a1's last 3, newest first: %+v", evs)
		}
		if evs, _ := s.ListAlarmEvents(ctx, "app", "", 0); len(evs) != 6 || evs[0].Alarm != "a2" {
			t.Fatalf("app's history: %+v", evs)
		}
		if evs, _ := s.ListAlarmEvents(ctx, "nope", "", 0); evs == nil || len(evs) != 0 {
			t.Fatalf("unknown stack's history: %#v", evs)
		}

		if urls, err := s.AlarmWebhooks(ctx, "app"); err != nil || urls == nil || len(urls) != 0 {
			t.Fatalf("no webhooks: %#v, %v", urls, err)
		}
		must(t, s.SetAlarmWebhooks(ctx, "app", []string{"https://a.example/1", "https://b.example/2"}))
		must(t, s.SetAlarmWebhooks(ctx, "other", []string{"https://c.example/3"}))
		if urls, _ := s.AlarmWebhooks(ctx, "app"); !reflect.DeepEqual(urls, []string{"https://a.example/1", "https://b.example/2"}) {
			t.Fatalf("webhooks: %v", urls)
		}
		must(t, s.SetAlarmWebhooks(ctx, "other", nil))
		if urls, _ := s.AlarmWebhooks(ctx, "other"); len(urls) != 0 {
			t.Fatalf("cleared webhooks: %v", urls)
		}
		must(t, s.SetAlarmWebhooks(ctx, "other", []string{"https://c.example/3"}))

		// Deleting one alarm drops its history only.
		must(t, s.DeleteAlarm(ctx, "app", "a2"))
		if evs, _ := s.ListAlarmEvents(ctx, "app", "", 0); len(evs) != 5 {
			t.Fatalf("after deleting a2: %+v", evs)
		}
		// Deleting a stack drops all of its alarms' records.
		must(t, s.DeleteStack(ctx, "app"))
		if got, _ := s.ListAlarms(ctx, ""); len(got) != 1 || got[0].Stack != "other" {
			t.Fatalf("alarms after deleting app: %+v", got)
		}
		if evs, _ := s.ListAlarmEvents(ctx, "app", "", 0); len(evs) != 0 {
			t.Fatalf("app's history after delete: %+v", evs)
		}
		if urls, _ := s.AlarmWebhooks(ctx, "app"); len(urls) != 0 {
			t.Fatalf("app's webhooks after delete: %v", urls)
		}
		if urls, _ := s.AlarmWebhooks(ctx, "other"); len(urls) != 1 {
			t.Fatalf("other's webhooks after deleting app: %v", urls)
		}
		if evs, _ := s.ListAlarmEvents(ctx, "other", "", 0); len(evs) != 1 {
			t.Fatalf("other's history after deleting app: %+v", evs)
		}
	})
}
