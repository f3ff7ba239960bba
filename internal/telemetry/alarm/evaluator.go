package alarm

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Run evaluates every alarm each Interval until ctx ends, then waits for
// the notifications under way (which give up their retries).
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		m.Evaluate(ctx, time.Now())
		select {
		case <-ctx.Done():
			m.notify.Wait()
			return
		case <-t.C:
		}
	}
}

// Evaluate runs one evaluation of every alarm as of now: the built-in
// alarms first (creating those of new stacks and stages), then the
// metric alarms.
func (m *Manager) Evaluate(ctx context.Context, now time.Time) {
	if m.cfg.Observer != nil {
		if err := m.builtins(ctx, now); err != nil && ctx.Err() == nil {
			m.log.Warn("evaluate built-in alarms", "err", err)
		}
	}
	all, err := m.cfg.Store.ListAlarms(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("evaluate alarms: list", "err", err)
		}
		return
	}
	for _, a := range all {
		if a.Kind != core.AlarmMetric {
			continue
		}
		var d Decision
		if m.cfg.Query == nil {
			d = Decision{core.AlarmInsufficientData, "this server has no metrics store"}
		} else {
			from, to := Window(a, now, m.cfg.Settle)
			d = Evaluate(a, a.Status.State, m.cfg.Query(a.Stack, a.Stage, a.Metric, from, to, a.Period.D()), from, to)
		}
		m.apply(ctx, a, a.Status, d, now)
	}
}

// apply records a decision: a new status (with a history event and a
// notification when the state changes), or just a fresher reason.
// It returns the status now stored.
func (m *Manager) apply(ctx context.Context, a core.Alarm, cur core.AlarmStatus, d Decision, now time.Time) core.AlarmStatus {
	if d.State == cur.State {
		if d.Reason == cur.Reason || d.Reason == "" {
			return cur
		}
		next := cur
		next.Reason = d.Reason
		if err := m.cfg.Store.SetAlarmStatus(ctx, a.Stack, a.ID, next, nil); err != nil {
			m.storeFailed(a, err)
			return cur
		}
		return next
	}
	next := core.AlarmStatus{State: d.State, Reason: d.Reason, Since: now.UTC(), Seen: cur.Seen}
	from := cur.State
	if from == "" {
		from = core.AlarmInsufficientData
	}
	ev := core.AlarmEvent{Time: now.UTC(), Stack: a.Stack, Alarm: a.ID, Name: a.Name, Type: core.AlarmStateChange, From: from, To: d.State, Reason: d.Reason}
	if err := m.cfg.Store.SetAlarmStatus(ctx, a.Stack, a.ID, next, &ev); err != nil {
		m.storeFailed(a, err)
		return cur
	}
	log := m.log.With("stack", a.Stack, "stage", a.Stage, "alarm", a.Name, "from", from, "to", d.State, "reason", d.Reason)
	if d.State == core.AlarmAlarm {
		log.Warn("alarm state changed")
	} else {
		log.Info("alarm state changed")
	}
	if !notifies(from, d.State) {
		return next
	}
	urls, err := m.targets(ctx, a)
	if err != nil {
		m.log.Warn("alarm webhooks", "stack", a.Stack, "alarm", a.Name, "err", err)
		return next
	}
	n := Notification{AlarmID: a.ID, AlarmName: a.Name, Kind: a.Kind, Stack: a.Stack, Stage: a.Stage, State: d.State,
		PreviousState: from, Reason: d.Reason, Time: now.UTC(), Dashboard: m.dashboard(a)}
	if a.Kind == core.AlarmMetric {
		th := a.Threshold
		n.Metric, n.Comparison, n.Threshold, n.Period, n.For = a.Metric, a.Comparison, &th, periodText(a.Period.D()), a.For
	}
	m.notify.Send(ctx, urls, n)
	return next
}

func (m *Manager) storeFailed(a core.Alarm, err error) {
	if core.IsNotFound(err) {
		return // deleted meanwhile
	}
	m.log.Warn("record alarm state", "stack", a.Stack, "alarm", a.Name, "err", err)
}
