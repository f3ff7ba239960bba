// Package sqlite is the embedded default store.Store, on modernc.org/sqlite
// (pure Go, no cgo). Records are rows keyed by stack plus a JSON document,
// so domain types can grow without schema migrations for every field;
// usage, many small numeric rows, has columns (see migrations).
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

var _ store.Store = (*Store)(nil)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a store.Store in one SQLite file.
type Store struct {
	db *sql.DB
	q  querier // db, or the transaction this Store is bound to
	tx bool
}

// Open opens (creating if needed) the database at path.
func Open(path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	// One writer at a time is all SQLite offers; one connection avoids
	// SQLITE_BUSY between our own goroutines entirely.
	db.SetMaxOpenConns(1)
	if err := migrate(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrade schema of %s: %w", path, err)
	}
	return &Store{db: db, q: db}, nil
}

func (s *Store) Close() error {
	if s.tx {
		return nil
	}
	return s.db.Close()
}

func (s *Store) Tx(ctx context.Context, fn func(store.Store) error) error {
	if s.tx {
		return fn(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Store{db: s.db, q: tx, tx: true}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *Store) CreateStack(ctx context.Context, st core.Stack) error {
	doc, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, `INSERT INTO stacks (name, doc) VALUES (?, ?)`, st.Name, doc)
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return core.Errorf(core.CodeConflict, "stack %q already exists", st.Name)
	}
	if err != nil {
		return fmt.Errorf("create stack %s: %w", st.Name, err)
	}
	return nil
}

func (s *Store) GetStack(ctx context.Context, name string) (core.Stack, error) {
	var st core.Stack
	err := getDoc(ctx, s.q, &st, `SELECT doc FROM stacks WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return st, core.Errorf(core.CodeNotFound, "unknown stack %q", name)
	}
	return st, err
}

func (s *Store) ListStacks(ctx context.Context) ([]core.Stack, error) {
	return listDocs[core.Stack](ctx, s.q, `SELECT doc FROM stacks ORDER BY name`)
}

func (s *Store) UpdateStack(ctx context.Context, st core.Stack) error {
	doc, err := json.Marshal(st)
	if err != nil {
		return err
	}
	res, err := s.q.ExecContext(ctx, `UPDATE stacks SET doc = ? WHERE name = ?`, doc, st.Name)
	if err != nil {
		return fmt.Errorf("update stack %s: %w", st.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.Errorf(core.CodeNotFound, "unknown stack %q", st.Name)
	}
	return nil
}

func (s *Store) DeleteStack(ctx context.Context, name string) error {
	return s.Tx(ctx, func(t store.Store) error {
		q := t.(*Store).q
		res, err := q.ExecContext(ctx, `DELETE FROM stacks WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("delete stack %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.Errorf(core.CodeNotFound, "unknown stack %q", name)
		}
		for _, table := range []string{"builds", "releases", "stage_releases", "events", "usage_minutes", "api_keys", "domains", "alarms", "alarm_states", "alarm_history", "alarm_webhooks"} {
			if _, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE stack = ?`, name); err != nil {
				return fmt.Errorf("delete %s of %s: %w", table, name, err)
			}
		}
		return deleteQuotaUse(ctx, q, name)
	})
}

func (s *Store) NextSeq(ctx context.Context, stack, kind string) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, `INSERT INTO sequences (stack, kind, n) VALUES (?, ?, 1)
		ON CONFLICT (stack, kind) DO UPDATE SET n = n + 1 RETURNING n`, stack, kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next %s number of %s: %w", kind, stack, err)
	}
	return n, nil
}

func (s *Store) PutBuild(ctx context.Context, b core.Build) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, `INSERT INTO builds (stack, id, seq, doc) VALUES (?, ?, ?, ?)
		ON CONFLICT (stack, id) DO UPDATE SET doc = excluded.doc`, b.Stack, b.ID, seqOf(b.ID), doc)
	if err != nil {
		return fmt.Errorf("save build %s/%s: %w", b.Stack, b.ID, err)
	}
	return nil
}

func (s *Store) GetBuild(ctx context.Context, stack, id string) (core.Build, error) {
	var b core.Build
	err := getDoc(ctx, s.q, &b, `SELECT doc FROM builds WHERE stack = ? AND id = ?`, stack, id)
	if errors.Is(err, sql.ErrNoRows) {
		return b, core.Errorf(core.CodeNotFound, "stack %q has no build %q", stack, id)
	}
	return b, err
}

func (s *Store) ListBuilds(ctx context.Context, stack string) ([]core.Build, error) {
	return listDocs[core.Build](ctx, s.q, `SELECT doc FROM builds WHERE stack = ? ORDER BY seq DESC`, stack)
}

func (s *Store) PutRelease(ctx context.Context, r core.Release) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, `INSERT INTO releases (stack, id, seq, stage, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (stack, id) DO UPDATE SET doc = excluded.doc`, r.Stack, r.ID, seqOf(r.ID), r.Stage, doc)
	if err != nil {
		return fmt.Errorf("save release %s/%s: %w", r.Stack, r.ID, err)
	}
	return nil
}

func (s *Store) GetRelease(ctx context.Context, stack, id string) (core.Release, error) {
	var r core.Release
	err := getDoc(ctx, s.q, &r, `SELECT doc FROM releases WHERE stack = ? AND id = ?`, stack, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, core.Errorf(core.CodeNotFound, "stack %q has no release %q", stack, id)
	}
	return r, err
}

func (s *Store) ListReleases(ctx context.Context, stack, stage string) ([]core.Release, error) {
	if stage == "" {
		return listDocs[core.Release](ctx, s.q, `SELECT doc FROM releases WHERE stack = ? ORDER BY seq DESC`, stack)
	}
	return listDocs[core.Release](ctx, s.q, `SELECT doc FROM releases WHERE stack = ? AND stage = ? ORDER BY seq DESC`, stack, stage)
}

func (s *Store) SetStageRelease(ctx context.Context, stack, stage, release string) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO stage_releases (stack, stage, release) VALUES (?, ?, ?)
		ON CONFLICT (stack, stage) DO UPDATE SET release = excluded.release`, stack, stage, release)
	if err != nil {
		return fmt.Errorf("set release of %s/%s: %w", stack, stage, err)
	}
	return nil
}

func (s *Store) StageReleases(ctx context.Context) ([]store.StageRelease, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT stack, stage, release FROM stage_releases ORDER BY stack, stage`)
	if err != nil {
		return nil, fmt.Errorf("list stage releases: %w", err)
	}
	defer rows.Close()
	var out []store.StageRelease
	for rows.Next() {
		var sr store.StageRelease
		if err := rows.Scan(&sr.Stack, &sr.Stage, &sr.Release); err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, rows.Err()
}

// maxEventsPerStage bounds the events table: older ones are dropped.
const maxEventsPerStage = 1000

func (s *Store) AddEvent(ctx context.Context, e core.StageEvent) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.q.ExecContext(ctx, `INSERT INTO events (stack, stage, doc) VALUES (?, ?, ?)`, e.Stack, e.Stage, doc); err != nil {
		return fmt.Errorf("record event of %s/%s: %w", e.Stack, e.Stage, err)
	}
	_, err = s.q.ExecContext(ctx, `DELETE FROM events WHERE stack = ? AND stage = ? AND seq <= (
		SELECT seq FROM events WHERE stack = ? AND stage = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
		e.Stack, e.Stage, e.Stack, e.Stage, maxEventsPerStage)
	return err
}

func (s *Store) ListEvents(ctx context.Context, stack, stage string, limit int) ([]core.StageEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	return listDocs[core.StageEvent](ctx, s.q, `SELECT doc FROM events WHERE stack = ? AND stage = ? ORDER BY seq DESC LIMIT ?`, stack, stage, limit)
}

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", core.Errorf(core.CodeNotFound, "setting %q is not set", key)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}

func getDoc(ctx context.Context, q querier, v any, query string, args ...any) error {
	var doc []byte
	if err := q.QueryRowContext(ctx, query, args...).Scan(&doc); err != nil {
		return err
	}
	return json.Unmarshal(doc, v)
}

func listDocs[T any](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(doc, &v); err != nil {
			return nil, fmt.Errorf("decode row: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// seqOf extracts the number from an id like "b12" so lists sort
// numerically ("b10" after "b9").
func seqOf(id string) int {
	n, _ := strconv.Atoi(strings.TrimLeft(id, "abcdefghijklmnopqrstuvwxyz"))
	return n
}
