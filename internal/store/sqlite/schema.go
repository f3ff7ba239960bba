package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations upgrade the schema one step each, in order; PRAGMA
// user_version records how many a database has had. Append only: a
// step that has shipped never changes, or databases that ran it drift.
//
// The first step uses IF NOT EXISTS because databases made before
// versioning (user_version 0) already have its tables.
var migrations = []string{
	// 1: stacks, builds, releases, stages, sequences, events, settings.
	`
CREATE TABLE IF NOT EXISTS stacks (
	name       TEXT PRIMARY KEY,
	doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS builds (
	stack TEXT NOT NULL,
	id    TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	doc   TEXT NOT NULL,
	PRIMARY KEY (stack, id)
);
CREATE TABLE IF NOT EXISTS releases (
	stack TEXT NOT NULL,
	id    TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	stage TEXT NOT NULL,
	doc   TEXT NOT NULL,
	PRIMARY KEY (stack, id)
);
CREATE TABLE IF NOT EXISTS stage_releases (
	stack   TEXT NOT NULL,
	stage   TEXT NOT NULL,
	release TEXT NOT NULL,
	PRIMARY KEY (stack, stage)
);
CREATE TABLE IF NOT EXISTS sequences (
	stack TEXT NOT NULL,
	kind  TEXT NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (stack, kind)
);
CREATE TABLE IF NOT EXISTS events (
	seq   INTEGER PRIMARY KEY AUTOINCREMENT,
	stack TEXT NOT NULL,
	stage TEXT NOT NULL,
	doc   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stage ON events (stack, stage, seq);
CREATE TABLE IF NOT EXISTS settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// 2: serverless usage, one row per stage and UTC minute. Columns,
	// not a JSON document: there are many rows (a month is 43,200 per
	// stage) and their numbers are summed. minute is Unix seconds, so
	// it sorts and compares as time does; durations is the histogram
	// as a JSON array.
	`
CREATE TABLE usage_minutes (
	stack       TEXT NOT NULL,
	stage       TEXT NOT NULL,
	minute      INTEGER NOT NULL,
	requests    INTEGER NOT NULL,
	billed_ms   INTEGER NOT NULL,
	gb_seconds  REAL NOT NULL,
	cold_starts INTEGER NOT NULL,
	init_ms     INTEGER NOT NULL,
	throttles   INTEGER NOT NULL,
	errors      INTEGER NOT NULL,
	timeouts    INTEGER NOT NULL,
	max_ms      REAL NOT NULL,
	durations   TEXT NOT NULL,
	PRIMARY KEY (stack, stage, minute)
);
CREATE INDEX usage_minutes_minute ON usage_minutes (minute);
`,
	// 3: gateway API keys, custom domains and quota counts. hash has its
	// own column because the JSON document leaves it out (so it never
	// reaches an API response) and because the gateway looks keys up by
	// it. created_at is fixed-width UTC text, so it sorts as time does.
	// quota_use.key_id is "<stack>/<key id>"; period_start is Unix
	// seconds.
	`
CREATE TABLE api_keys (
	stack      TEXT NOT NULL,
	id         TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (stack, id)
);
CREATE TABLE domains (
	name  TEXT PRIMARY KEY,
	stack TEXT NOT NULL,
	stage TEXT NOT NULL,
	doc   TEXT NOT NULL
);
CREATE INDEX domains_stack ON domains (stack);
CREATE TABLE quota_use (
	key_id       TEXT NOT NULL,
	period_start INTEGER NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (key_id, period_start)
);
`,
	// 4: alarms. alarms holds the rules (a JSON document; name has its
	// own column for uniqueness per stack); alarm_states what the
	// evaluator last decided, apart from the rule so that an evaluation
	// never rewrites a rule; alarm_history state changes and webhook
	// deliveries; alarm_webhooks the URLs a stack's built-in alarms
	// notify (a JSON array).
	`
CREATE TABLE alarms (
	stack TEXT NOT NULL,
	id    TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	name  TEXT NOT NULL,
	doc   TEXT NOT NULL,
	PRIMARY KEY (stack, id),
	UNIQUE (stack, name)
);
CREATE TABLE alarm_states (
	stack TEXT NOT NULL,
	id    TEXT NOT NULL,
	doc   TEXT NOT NULL,
	PRIMARY KEY (stack, id)
);
CREATE TABLE alarm_history (
	seq   INTEGER PRIMARY KEY AUTOINCREMENT,
	stack TEXT NOT NULL,
	alarm TEXT NOT NULL,
	doc   TEXT NOT NULL
);
CREATE INDEX alarm_history_alarm ON alarm_history (stack, alarm, seq);
CREATE TABLE alarm_webhooks (
	stack TEXT PRIMARY KEY,
	doc   TEXT NOT NULL
);
`,
}

// migrate runs the migrations db has not had, each in its own
// transaction with the version bump, so a crash leaves a whole step
// done or not started.
func migrate(ctx context.Context, db *sql.DB) error {
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this slipway's %d", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if err := step(ctx, db, i+1, migrations[i]); err != nil {
			return err
		}
	}
	return nil
}

func step(ctx context.Context, db *sql.DB, version int, ddl string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	// PRAGMA takes no bound parameters; version is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version)); err != nil {
		return fmt.Errorf("migration %d: record version: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", version, err)
	}
	return nil
}
