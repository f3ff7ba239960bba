package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// createdAtLayout is fixed-width UTC, so created_at sorts as time does
// (RFC 3339 with trimmed fractions does not: "05Z" > "05.1Z").
const createdAtLayout = "2006-01-02T15:04:05.000000000Z"

func (s *Store) PutAPIKey(ctx context.Context, k core.APIKey) error {
	doc, err := json.Marshal(k)
	if err != nil {
		return err
	}
	// A clash on hash is not the upsert's conflict target, so it fails
	// with a UNIQUE error rather than replacing another key.
	_, err = s.q.ExecContext(ctx, `INSERT INTO api_keys (stack, id, seq, stage, hash, created_at, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (stack, id) DO UPDATE SET stage = excluded.stage, hash = excluded.hash,
			created_at = excluded.created_at, doc = excluded.doc`,
		k.Stack, k.ID, seqOf(k.ID), k.Stage, k.Hash, k.CreatedAt.UTC().Format(createdAtLayout), doc)
	if err != nil && strings.Contains(err.Error(), "api_keys.hash") {
		return core.Errorf(core.CodeConflict, "another API key has the same hash as %s/%s", k.Stack, k.ID)
	}
	if err != nil {
		return fmt.Errorf("save API key %s/%s: %w", k.Stack, k.ID, err)
	}
	return nil
}

func (s *Store) ListAPIKeys(ctx context.Context, stack, stage string) ([]core.APIKey, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT hash, doc FROM api_keys
		WHERE (? = '' OR stack = ?) AND (? = '' OR stage = ?)
		ORDER BY created_at, stack, seq, id`, stack, stack, stage, stage)
	if err != nil {
		return nil, fmt.Errorf("list API keys of %q: %w", stack, err)
	}
	defer rows.Close()
	out := []core.APIKey{}
	for rows.Next() {
		var (
			hash string
			doc  []byte
			k    core.APIKey
		)
		if err := rows.Scan(&hash, &doc); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(doc, &k); err != nil {
			return nil, fmt.Errorf("decode API key: %w", err)
		}
		k.Hash = hash // not in the document: see migration 3
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteAPIKey removes the key's quota counts with it.
func (s *Store) DeleteAPIKey(ctx context.Context, stack, id string) error {
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		res, err := q.ExecContext(ctx, `DELETE FROM api_keys WHERE stack = ? AND id = ?`, stack, id)
		if err != nil {
			return fmt.Errorf("delete API key %s/%s: %w", stack, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.Errorf(core.CodeNotFound, "stack %q has no API key %q", stack, id)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM quota_use WHERE key_id = ?`, quotaKeyID(stack, id)); err != nil {
			return fmt.Errorf("delete quota use of %s/%s: %w", stack, id, err)
		}
		return nil
	})
}

// quotaKeyID is how the gateway names a key's quota counts.
func quotaKeyID(stack, id string) string { return stack + "/" + id }

// quotaRetention is how far before the period being counted a key's
// older counts are kept. The longest period, a month, is at most 31
// days, so the period just ended survives; anything older is not needed.
const quotaRetention = 40 * 24 * time.Hour

// AddQuotaUse counts with an upsert; the first count of a period also
// prunes the key's periods older than quotaRetention, so pruning costs
// one indexed delete per key and period, not one per call.
func (s *Store) AddQuotaUse(ctx context.Context, keyID string, periodStart time.Time, n int64) (int64, error) {
	var total int64
	err := s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		err := q.QueryRowContext(ctx, `INSERT INTO quota_use (key_id, period_start, n) VALUES (?, ?, ?)
			ON CONFLICT (key_id, period_start) DO UPDATE SET n = n + excluded.n RETURNING n`,
			keyID, periodStart.Unix(), n).Scan(&total)
		if err != nil {
			return fmt.Errorf("add quota use of %s: %w", keyID, err)
		}
		if total != n {
			return nil // not a new period: pruned when it was
		}
		_, err = q.ExecContext(ctx, `DELETE FROM quota_use WHERE key_id = ? AND period_start < ?`,
			keyID, periodStart.Add(-quotaRetention).Unix())
		if err != nil {
			return fmt.Errorf("prune quota use of %s: %w", keyID, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// deleteQuotaUse removes the counts of every key of a stack: those whose
// ID starts with "<stack>/". A range, not LIKE, so "_" and "%" in a
// name match only themselves.
func deleteQuotaUse(ctx context.Context, q querier, stack string) error {
	prefix := quotaKeyID(stack, "")
	// Under SQLite's byte-wise text order, IDs starting with "<stack>/"
	// are exactly those in ["<stack>/", "<stack>0"): '0' follows '/'.
	_, err := q.ExecContext(ctx, `DELETE FROM quota_use WHERE key_id >= ? AND key_id < ?`, prefix, stack+"0")
	if err != nil {
		return fmt.Errorf("delete quota use of %s: %w", stack, err)
	}
	return nil
}
