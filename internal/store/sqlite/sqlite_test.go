package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
	"github.com/slipwayhq/slipway/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateStack(ctx, core.Stack{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetStack(ctx, "kept"); err != nil {
		t.Fatalf("stack lost across reopen: %v", err)
	}
}

// A state.db made before schema versioning (user_version 0, the first
// migration's tables) upgrades in place and keeps its records.
func TestUpgradesUnversionedDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`INSERT INTO stacks (name, doc) VALUES ('kept', '{"name":"kept"}')`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetStack(ctx, "kept"); err != nil {
		t.Fatalf("stack lost in upgrade: %v", err)
	}
	minute := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := s.AddUsage(ctx, []core.UsageBucket{{Stack: "kept", Stage: "dev", Minute: minute, Requests: 1}}); err != nil {
		t.Fatalf("usage after upgrade: %v", err)
	}
	var version int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
	s.Close()

	// Reopening runs nothing again.
	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen upgraded db: %v", err)
	}
	got, err := s.ListUsage(ctx, "kept", "", minute, minute.Add(time.Minute))
	if err != nil || len(got) != 1 {
		t.Fatalf("usage across reopen: %+v, %v", got, err)
	}
	if _, err := s.db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: got %v, want a refusal", err)
	}
}

// Pruning and a deleted key's counts are this store's choices, not the
// interface's, so they are checked here rather than in storetest.
func TestQuotaUseCleanup(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rows := func(keyID string) []int64 {
		t.Helper()
		r, err := s.db.Query(`SELECT period_start FROM quota_use WHERE key_id = ? ORDER BY period_start`, keyID)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []int64
		for r.Next() {
			var p int64
			if err := r.Scan(&p); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	add := func(keyID string, period time.Time) {
		t.Helper()
		if _, err := s.AddQuotaUse(ctx, keyID, period, 1); err != nil {
			t.Fatal(err)
		}
	}
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	feb, mar := jan.AddDate(0, 1, 0), jan.AddDate(0, 2, 0)
	add("app/k1", jan)
	add("app/k1", feb)
	add("app/k2", jan)
	// January ended 31 days before February began: kept.
	if got := rows("app/k1"); len(got) != 2 {
		t.Fatalf("periods of k1 after February: %v, want January and February", got)
	}
	// March's first count prunes January (59 days older), only of k1.
	add("app/k1", mar)
	add("app/k1", mar)
	if got := rows("app/k1"); len(got) != 2 || got[0] != feb.Unix() || got[1] != mar.Unix() {
		t.Fatalf("periods of k1 after March: %v, want February and March", got)
	}
	if got := rows("app/k2"); len(got) != 1 {
		t.Fatalf("periods of k2: %v, want January kept", got)
	}

	if err := s.PutAPIKey(ctx, core.APIKey{ID: "k1", Stack: "app", Stage: "dev", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(ctx, "app", "k1"); err != nil {
		t.Fatal(err)
	}
	if got := rows("app/k1"); len(got) != 0 {
		t.Fatalf("counts of a deleted key: %v", got)
	}
	if got := rows("app/k2"); len(got) != 1 {
		t.Fatalf("counts of k2 lost with k1: %v", got)
	}
}
