package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

const usageColumns = `stack, stage, minute, requests, billed_ms, gb_seconds, cold_starts,
	init_ms, throttles, errors, timeouts, max_ms, durations`

// AddUsage reads, merges and writes back each bucket inside one
// transaction: element-wise histogram sums don't fit an SQL upsert.
func (s *Store) AddUsage(ctx context.Context, buckets []core.UsageBucket) error {
	if len(buckets) == 0 {
		return nil
	}
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		for _, b := range buckets {
			b.Minute = b.Minute.UTC().Truncate(time.Minute)
			old, err := scanUsage(q.QueryRowContext(ctx, `SELECT `+usageColumns+` FROM usage_minutes
				WHERE stack = ? AND stage = ? AND minute = ?`, b.Stack, b.Stage, b.Minute.Unix()))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				old = core.UsageBucket{Stack: b.Stack, Stage: b.Stage, Minute: b.Minute}
			case err != nil:
				return fmt.Errorf("read usage of %s/%s at %s: %w", b.Stack, b.Stage, b.Minute.Format(time.RFC3339), err)
			}
			merge(&old, b)
			if err := putUsage(ctx, q, old); err != nil {
				return err
			}
		}
		return nil
	})
}

// merge is core.UsageBucket.Merge, with histograms of different lengths
// (bounds added in a later version) padded rather than reset.
func merge(into *core.UsageBucket, b core.UsageBucket) {
	n := max(len(into.Durations), len(b.Durations))
	into.Durations = pad(into.Durations, n)
	b.Durations = pad(b.Durations, n)
	into.Merge(b)
}

func pad(counts []int64, n int) []int64 {
	if len(counts) == n {
		return counts
	}
	return append(append(make([]int64, 0, n), counts...), make([]int64, n-len(counts))...)
}

func putUsage(ctx context.Context, q querier, b core.UsageBucket) error {
	durations, err := json.Marshal(b.Durations)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO usage_minutes (`+usageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (stack, stage, minute) DO UPDATE SET
			requests = excluded.requests, billed_ms = excluded.billed_ms, gb_seconds = excluded.gb_seconds,
			cold_starts = excluded.cold_starts, init_ms = excluded.init_ms, throttles = excluded.throttles,
			errors = excluded.errors, timeouts = excluded.timeouts, max_ms = excluded.max_ms,
			durations = excluded.durations`,
		b.Stack, b.Stage, b.Minute.Unix(), b.Requests, b.BilledMS, b.GBSeconds, b.ColdStarts,
		b.InitMS, b.Throttles, b.Errors, b.Timeouts, b.MaxMS, string(durations))
	if err != nil {
		return fmt.Errorf("save usage of %s/%s at %s: %w", b.Stack, b.Stage, b.Minute.Format(time.RFC3339), err)
	}
	return nil
}

func (s *Store) ListUsage(ctx context.Context, stack, stage string, since, until time.Time) ([]core.UsageBucket, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT `+usageColumns+` FROM usage_minutes
		WHERE stack = ? AND (? = '' OR stage = ?) AND minute >= ? AND minute < ?
		ORDER BY minute, stage`, stack, stage, stage, ceilUnix(since), ceilUnix(until))
	if err != nil {
		return nil, fmt.Errorf("list usage of %s: %w", stack, err)
	}
	defer rows.Close()
	out := []core.UsageBucket{}
	for rows.Next() {
		b, err := scanUsage(rows)
		if err != nil {
			return nil, fmt.Errorf("list usage of %s: %w", stack, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (s *Store) DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.q.ExecContext(ctx, `DELETE FROM usage_minutes WHERE minute < ?`, ceilUnix(before))
	if err != nil {
		return 0, fmt.Errorf("delete usage before %s: %w", before.Format(time.RFC3339), err)
	}
	return res.RowsAffected()
}

// ceilUnix is t in Unix seconds, rounded up: minutes are whole seconds,
// so minute >= t and minute < t hold exactly when they hold against it.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// scanUsage reads one row of usageColumns from a *sql.Row or *sql.Rows.
func scanUsage(r interface{ Scan(...any) error }) (core.UsageBucket, error) {
	var (
		b         core.UsageBucket
		minute    int64
		durations string
	)
	err := r.Scan(&b.Stack, &b.Stage, &minute, &b.Requests, &b.BilledMS, &b.GBSeconds, &b.ColdStarts,
		&b.InitMS, &b.Throttles, &b.Errors, &b.Timeouts, &b.MaxMS, &durations)
	if err != nil {
		return b, err
	}
	b.Minute = time.Unix(minute, 0).UTC()
	if err := json.Unmarshal([]byte(durations), &b.Durations); err != nil {
		return b, fmt.Errorf("decode durations of %s/%s at %d: %w", b.Stack, b.Stage, minute, err)
	}
	return b, nil
}
