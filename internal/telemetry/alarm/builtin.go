package alarm

import (
	"context"
	"fmt"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// builtinAlarms are the alarms a stack has without setup: build-failed,
// and release-failed and crash-loop for each of its stages.
func builtinAlarms(st core.StackStatus) []core.Alarm {
	mk := func(kind core.AlarmKind, stage string) core.Alarm {
		id := string(kind)
		if stage != "" {
			id += "-" + stage
		}
		return core.Alarm{ID: id, Name: id, Stack: st.Name, Stage: stage, Kind: kind, Notify: []string{}, CreatedAt: st.CreatedAt}
	}
	out := []core.Alarm{mk(core.AlarmBuildFailed, "")}
	for _, sg := range st.Stages {
		out = append(out, mk(core.AlarmReleaseFailed, sg.Name), mk(core.AlarmCrashLoop, sg.Name))
	}
	return out
}

// ensureBuiltins creates the built-in alarms a stack (every stack if
// stack is "") lacks, so that they are listed from its creation on; the
// next evaluation judges them.
func (m *Manager) ensureBuiltins(ctx context.Context, stack string) error {
	if m.cfg.Observer == nil {
		return nil
	}
	var stacks []core.Stack
	if stack != "" {
		st, err := m.cfg.Store.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		stacks = []core.Stack{st}
	} else {
		var err error
		if stacks, err = m.cfg.Store.ListStacks(ctx); err != nil {
			return err
		}
	}
	stored, err := m.cfg.Store.ListAlarms(ctx, stack)
	if err != nil {
		return err
	}
	have := map[[2]string]bool{}
	for _, a := range stored {
		have[[2]string{a.Stack, a.ID}] = true
	}
	now := time.Now().UTC()
	for _, st := range stacks {
		ss := core.StackStatus{Name: st.Name, CreatedAt: st.CreatedAt}
		for _, sg := range st.Spec.Stages {
			ss.Stages = append(ss.Stages, core.StageStatus{Name: sg.Name})
		}
		for _, a := range builtinAlarms(ss) {
			if have[[2]string{a.Stack, a.ID}] {
				continue
			}
			if err := m.cfg.Store.PutAlarm(ctx, a); err != nil {
				return err
			}
			status := core.AlarmStatus{State: core.AlarmInsufficientData, Reason: "not evaluated yet", Since: now}
			if err := m.cfg.Store.SetAlarmStatus(ctx, a.Stack, a.ID, status, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// builtins creates the built-in alarms of new stacks and stages (and
// drops those of removed stages), then judges each one.
func (m *Manager) builtins(ctx context.Context, now time.Time) error {
	stacks, err := m.cfg.Observer.List(ctx)
	if err != nil {
		return fmt.Errorf("list stacks: %w", err)
	}
	stored, err := m.cfg.Store.ListAlarms(ctx, "")
	if err != nil {
		return fmt.Errorf("list alarms: %w", err)
	}
	have := map[[2]string]core.Alarm{}
	for _, a := range stored {
		if a.BuiltIn() {
			have[[2]string{a.Stack, a.ID}] = a
		}
	}
	for _, st := range stacks {
		want := builtinAlarms(st)
		wanted := map[string]bool{}
		for _, a := range want {
			wanted[a.ID] = true
			cur, ok := have[[2]string{a.Stack, a.ID}]
			if !ok {
				if err := m.cfg.Store.PutAlarm(ctx, a); err != nil {
					m.log.Warn("create built-in alarm", "stack", a.Stack, "alarm", a.ID, "err", err)
					continue
				}
				cur = a
				cur.Status = core.AlarmStatus{State: core.AlarmInsufficientData, Since: now.UTC()}
			}
			m.judge(ctx, cur, st, now)
		}
		for k, a := range have {
			if k[0] == st.Name && !wanted[a.ID] {
				if err := m.cfg.Store.DeleteAlarm(ctx, a.Stack, a.ID); err != nil && !core.IsNotFound(err) {
					m.log.Warn("drop built-in alarm of a removed stage", "stack", a.Stack, "alarm", a.ID, "err", err)
				}
			}
		}
	}
	return nil
}

// judge evaluates one built-in alarm of stack st.
func (m *Manager) judge(ctx context.Context, a core.Alarm, st core.StackStatus, now time.Time) {
	cur := a.Status
	switch a.Kind {
	case core.AlarmCrashLoop:
		for _, sg := range st.Stages {
			if sg.Name == a.Stage {
				m.apply(ctx, a, cur, CrashLoop(sg, cur.State), now)
			}
		}
		return
	case core.AlarmBuildFailed:
		builds, err := m.cfg.Observer.Builds(ctx, st.Name)
		if err != nil {
			m.log.Warn("built-in alarm: list builds", "stack", st.Name, "err", err)
			return
		}
		m.walk(ctx, a, cur, BuildOutcomes(builds), "build", now)
	case core.AlarmReleaseFailed:
		rels, err := m.cfg.Observer.Releases(ctx, st.Name, a.Stage)
		if err != nil {
			m.log.Warn("built-in alarm: list releases", "stack", st.Name, "stage", a.Stage, "err", err)
			return
		}
		m.walk(ctx, a, cur, ReleaseOutcomes(rels), "release to "+a.Stage, now)
	}
}

// walk applies each state change the outcomes not yet seen make, in
// order, and remembers the newest outcome judged.
func (m *Manager) walk(ctx context.Context, a core.Alarm, cur core.AlarmStatus, outcomes []Outcome, what string, now time.Time) {
	steps, seen := Judge(outcomes, cur.Seen, cur.State, what)
	if len(outcomes) == 0 && cur.Reason == "" {
		steps = []Decision{{core.AlarmInsufficientData, "no " + what + " has finished yet"}}
	}
	for _, d := range steps {
		cur = m.apply(ctx, a, cur, d, now)
	}
	if seen != cur.Seen {
		cur.Seen = seen
		if err := m.cfg.Store.SetAlarmStatus(ctx, a.Stack, a.ID, cur, nil); err != nil {
			m.storeFailed(a, err)
		}
	}
}
