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
