package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// PutDomain upserts only when the stored domain, if any, is the same
// stage's; otherwise the upsert changes nothing and the owner is read
// back, in the same transaction, for the conflict's message.
func (s *Store) PutDomain(ctx context.Context, d core.Domain) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		res, err := q.ExecContext(ctx, `INSERT INTO domains (name, stack, stage, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET doc = excluded.doc
			WHERE stack = excluded.stack AND stage = excluded.stage`, d.Name, d.Stack, d.Stage, doc)
		if err != nil {
			return fmt.Errorf("save domain %s: %w", d.Name, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		var stack, stage string
		err = q.QueryRowContext(ctx, `SELECT stack, stage FROM domains WHERE name = ?`, d.Name).Scan(&stack, &stage)
		if err != nil {
			return fmt.Errorf("read owner of domain %s: %w", d.Name, err)
		}
		return core.Errorf(core.CodeConflict, "domain %q already routes to %s/%s", d.Name, stack, stage)
	})
}

func (s *Store) ListDomains(ctx context.Context, stack string) ([]core.Domain, error) {
	return listDocs[core.Domain](ctx, s.q, `SELECT doc FROM domains WHERE ? = '' OR stack = ? ORDER BY name`, stack, stack)
}

func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	res, err := s.q.ExecContext(ctx, `DELETE FROM domains WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.Errorf(core.CodeNotFound, "unknown domain %q", name)
	}
	return nil
}
