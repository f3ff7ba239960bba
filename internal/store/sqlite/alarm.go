package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// maxAlarmEvents bounds each alarm's history: older entries are dropped.
const maxAlarmEvents = 1000

func (s *Store) PutAlarm(ctx context.Context, a core.Alarm) error {
	a.Status = core.AlarmStatus{} // kept in alarm_states
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, `INSERT INTO alarms (stack, id, seq, name, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (stack, id) DO UPDATE SET name = excluded.name, doc = excluded.doc`, a.Stack, a.ID, seqOf(a.ID), a.Name, doc)
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return core.Errorf(core.CodeConflict, "stack %q already has an alarm named %q", a.Stack, a.Name)
	}
	if err != nil {
		return fmt.Errorf("save alarm %s/%s: %w", a.Stack, a.ID, err)
	}
	return nil
}

func (s *Store) ListAlarms(ctx context.Context, stack string) ([]core.Alarm, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT a.doc, st.doc FROM alarms a
		LEFT JOIN alarm_states st ON st.stack = a.stack AND st.id = a.id
		WHERE ? = '' OR a.stack = ? ORDER BY a.stack, a.rowid`, stack, stack)
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	defer rows.Close()
	out := []core.Alarm{}
	for rows.Next() {
		var doc []byte
		var state sql.NullString
		if err := rows.Scan(&doc, &state); err != nil {
			return nil, err
		}
		var a core.Alarm
		if err := json.Unmarshal(doc, &a); err != nil {
			return nil, fmt.Errorf("decode alarm: %w", err)
		}
		if state.Valid {
			if err := json.Unmarshal([]byte(state.String), &a.Status); err != nil {
				return nil, fmt.Errorf("decode alarm state: %w", err)
			}
		}
		if a.Status.State == "" {
			a.Status.State = core.AlarmInsufficientData
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) DeleteAlarm(ctx context.Context, stack, id string) error {
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		res, err := q.ExecContext(ctx, `DELETE FROM alarms WHERE stack = ? AND id = ?`, stack, id)
		if err != nil {
			return fmt.Errorf("delete alarm %s/%s: %w", stack, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.Errorf(core.CodeNotFound, "stack %q has no alarm %q", stack, id)
		}
		for _, del := range []string{`DELETE FROM alarm_states WHERE stack = ? AND id = ?`, `DELETE FROM alarm_history WHERE stack = ? AND alarm = ?`} {
			if _, err := q.ExecContext(ctx, del, stack, id); err != nil {
				return fmt.Errorf("delete alarm %s/%s: %w", stack, id, err)
			}
		}
		return nil
	})
}

func (s *Store) SetAlarmStatus(ctx context.Context, stack, id string, st core.AlarmStatus, ev *core.AlarmEvent) error {
	doc, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		// Only for an alarm that still exists: a deletion racing an
		// evaluation must not leave a status behind.
		res, err := q.ExecContext(ctx, `INSERT INTO alarm_states (stack, id, doc)
			SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM alarms WHERE stack = ? AND id = ?)
			ON CONFLICT (stack, id) DO UPDATE SET doc = excluded.doc`, stack, id, doc, stack, id)
		if err != nil {
			return fmt.Errorf("save state of alarm %s/%s: %w", stack, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.Errorf(core.CodeNotFound, "stack %q has no alarm %q", stack, id)
		}
		if ev == nil {
			return nil
		}
		return addAlarmEvent(ctx, q, *ev)
	})
}

func (s *Store) AddAlarmEvent(ctx context.Context, ev core.AlarmEvent) error {
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		var one int
		err := q.QueryRowContext(ctx, `SELECT 1 FROM alarms WHERE stack = ? AND id = ?`, ev.Stack, ev.Alarm).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return core.Errorf(core.CodeNotFound, "stack %q has no alarm %q", ev.Stack, ev.Alarm)
		}
		if err != nil {
			return fmt.Errorf("find alarm %s/%s: %w", ev.Stack, ev.Alarm, err)
		}
		return addAlarmEvent(ctx, q, ev)
	})
}

func addAlarmEvent(ctx context.Context, q querier, ev core.AlarmEvent) error {
	doc, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO alarm_history (stack, alarm, doc) VALUES (?, ?, ?)`, ev.Stack, ev.Alarm, doc); err != nil {
		return fmt.Errorf("record history of alarm %s/%s: %w", ev.Stack, ev.Alarm, err)
	}
	_, err = q.ExecContext(ctx, `DELETE FROM alarm_history WHERE stack = ? AND alarm = ? AND seq <= (
		SELECT seq FROM alarm_history WHERE stack = ? AND alarm = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
		ev.Stack, ev.Alarm, ev.Stack, ev.Alarm, maxAlarmEvents)
	if err != nil {
		return fmt.Errorf("trim history of alarm %s/%s: %w", ev.Stack, ev.Alarm, err)
	}
	return nil
}

func (s *Store) ListAlarmEvents(ctx context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	return listDocs[core.AlarmEvent](ctx, s.q, `SELECT doc FROM alarm_history WHERE stack = ? AND (? = '' OR alarm = ?)
		ORDER BY seq DESC LIMIT ?`, stack, alarm, alarm, limit)
}

func (s *Store) SetAlarmWebhooks(ctx context.Context, stack string, urls []string) error {
	if len(urls) == 0 {
		if _, err := s.q.ExecContext(ctx, `DELETE FROM alarm_webhooks WHERE stack = ?`, stack); err != nil {
			return fmt.Errorf("clear alarm webhooks of %s: %w", stack, err)
		}
		return nil
	}
	doc, err := json.Marshal(urls)
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, `INSERT INTO alarm_webhooks (stack, doc) VALUES (?, ?)
		ON CONFLICT (stack) DO UPDATE SET doc = excluded.doc`, stack, doc)
	if err != nil {
		return fmt.Errorf("save alarm webhooks of %s: %w", stack, err)
	}
	return nil
}

func (s *Store) AlarmWebhooks(ctx context.Context, stack string) ([]string, error) {
	urls := []string{}
	err := getDoc(ctx, s.q, &urls, `SELECT doc FROM alarm_webhooks WHERE stack = ?`, stack)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read alarm webhooks of %s: %w", stack, err)
	}
	return urls, nil
}
