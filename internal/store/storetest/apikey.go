package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// apiKeys exercises PutAPIKey, ListAPIKeys, DeleteAPIKey and DeleteStack
// removing keys.
func apiKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	key := func(stack, stage, id string, sec int) core.APIKey {
		return core.APIKey{ID: id, Stack: stack, Stage: stage, Name: "n-" + id, Plan: "basic",
			Hash: "h-" + stack + "-" + id, Prefix: "sk_" + id, CreatedAt: t0.Add(time.Duration(sec) * time.Second)}
	}
	keyIDs := func(ks []core.APIKey) []string {
		out := []string{}
		for _, k := range ks {
			out = append(out, k.Stack+"/"+k.ID)
		}
		return out
	}
	list := func(t *testing.T, s store.Store, stack, stage string) []core.APIKey {
		t.Helper()
		got, err := s.ListAPIKeys(ctx, stack, stage)
		must(t, err)
		return got
	}

	t.Run("put, list and hash", func(t *testing.T) {
		s := newStore(t)
		if got := list(t, s, "", ""); got == nil || len(got) != 0 {
			t.Fatalf("empty store: got %#v, want an empty list", got)
		}
		k1 := key("app", "dev", "k1", 0)
		k1.CreatedAt = k1.CreatedAt.In(time.FixedZone("X", 5*3600))
		must(t, s.PutAPIKey(ctx, k1))
		// Created in the same instant as k10: ID order, numerically.
		must(t, s.PutAPIKey(ctx, key("app", "prod", "k10", 2)))
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k9", 2)))
		// Sub-second times sort as time does, not as text.
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k3", 1)))
		k4 := key("app", "dev", "k4", 1)
		k4.CreatedAt = k4.CreatedAt.Add(500 * time.Millisecond)
		must(t, s.PutAPIKey(ctx, k4))
		must(t, s.PutAPIKey(ctx, key("other", "dev", "k1", -1)))

		got := list(t, s, "app", "dev")
		if want := []string{"app/k1", "app/k3", "app/k4", "app/k9"}; !reflect.DeepEqual(keyIDs(got), want) {
			t.Fatalf("dev keys: got %v, want %v, oldest first", keyIDs(got), want)
		}
		// Hash is not in the JSON document, yet comes back; CreatedAt
		// is the same instant, whatever its zone.
		want, g := key("app", "dev", "k1", 0), got[0]
		if !g.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("created at %v, want %v", g.CreatedAt, want.CreatedAt)
		}
		g.CreatedAt = want.CreatedAt
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", g, want)
		}
		if got := list(t, s, "app", ""); !reflect.DeepEqual(keyIDs(got), []string{"app/k1", "app/k3", "app/k4", "app/k9", "app/k10"}) {
			t.Fatalf("every stage's keys: %v", keyIDs(got))
		}
		if got := list(t, s, "", ""); !reflect.DeepEqual(keyIDs(got), []string{"other/k1", "app/k1", "app/k3", "app/k4", "app/k9", "app/k10"}) {
			t.Fatalf("every stack's keys: %v", keyIDs(got))
		}
		if got := list(t, s, "", "prod"); !reflect.DeepEqual(keyIDs(got), []string{"app/k10"}) {
			t.Fatalf("every stack's prod keys: %v", keyIDs(got))
		}
		if got := list(t, s, "nope", ""); len(got) != 0 {
			t.Fatalf("unknown stack: %v", keyIDs(got))
		}
		for _, k := range list(t, s, "", "") {
			if k.Hash != "h-"+k.Stack+"-"+k.ID {
				t.Fatalf("key %s/%s hash %q lost", k.Stack, k.ID, k.Hash)
			}
		}
	})
	t.Run("replace and conflicts", func(t *testing.T) {
		s := newStore(t)
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k1", 0)))
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k2", 1)))
		// Re-putting a key replaces it, hash included.
		k1 := key("app", "prod", "k1", 0)
		k1.Name, k1.Hash = "renamed", "h-new"
		must(t, s.PutAPIKey(ctx, k1))
		must(t, s.PutAPIKey(ctx, k1))
		got := list(t, s, "app", "")
		if len(got) != 2 || got[0].Name != "renamed" || got[0].Stage != "prod" || got[0].Hash != "h-new" {
			t.Fatalf("replace lost: %+v", got)
		}
		// The old hash is free again.
		must(t, s.PutAPIKey(ctx, core.APIKey{ID: "k3", Stack: "app", Stage: "dev", Hash: "h-app-k1", CreatedAt: t0.Add(5 * time.Second)}))
		// Another key's hash: in the same stack, another stack, or by
		// changing an existing key's.
		for _, k := range []core.APIKey{
			{ID: "k4", Stack: "app", Stage: "dev", Hash: "h-new"},
			{ID: "k1", Stack: "other", Stage: "dev", Hash: "h-app-k2"},
			{ID: "k2", Stack: "app", Stage: "dev", Hash: "h-new"},
		} {
			if err := s.PutAPIKey(ctx, k); core.CodeOf(err) != core.CodeConflict {
				t.Fatalf("put %s/%s with a taken hash: got %v, want conflict", k.Stack, k.ID, err)
			}
		}
		if got := list(t, s, "", ""); !reflect.DeepEqual(keyIDs(got), []string{"app/k1", "app/k2", "app/k3"}) || got[1].Hash != "h-app-k2" {
			t.Fatalf("after conflicts: %+v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		must(t, s.CreateStack(ctx, core.Stack{Name: "other"}))
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k1", 0)))
		must(t, s.PutAPIKey(ctx, key("app", "dev", "k2", 1)))
		must(t, s.PutAPIKey(ctx, key("other", "dev", "k1", 2)))
		must(t, s.DeleteAPIKey(ctx, "app", "k1"))
		if got := list(t, s, "", ""); !reflect.DeepEqual(keyIDs(got), []string{"app/k2", "other/k1"}) {
			t.Fatalf("after delete: %v", keyIDs(got))
		}
		for _, c := range [][2]string{{"app", "k1"}, {"nope", "k2"}, {"other", "k2"}} {
			if err := s.DeleteAPIKey(ctx, c[0], c[1]); !core.IsNotFound(err) {
				t.Fatalf("delete unknown %s/%s: got %v, want not found", c[0], c[1], err)
			}
		}
		must(t, s.DeleteStack(ctx, "app"))
		if got := list(t, s, "", ""); !reflect.DeepEqual(keyIDs(got), []string{"other/k1"}) {
			t.Fatalf("keys survived stack delete: %v", keyIDs(got))
		}
		// A deleted key's hash is free again.
		must(t, s.PutAPIKey(ctx, core.APIKey{ID: "k1", Stack: "app", Stage: "dev", Hash: "h-app-k2"}))
	})
	t.Run("rolled back with its transaction", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx store.Store) error {
			must(t, tx.PutAPIKey(ctx, key("app", "dev", "k1", 0)))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx err = %v", err)
		}
		if got := list(t, s, "", ""); len(got) != 0 {
			t.Fatalf("rolled back key exists: %v", keyIDs(got))
		}
	})
}

// quotaUse exercises AddQuotaUse and DeleteStack removing a stack's
// counts. Counts of periods that ended may be pruned, so it never adds
// to a period after adding to a later one of the same key.
func quotaUse(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	add := func(t *testing.T, s store.Store, keyID string, period time.Time, n, want int64) {
		t.Helper()
		got, err := s.AddQuotaUse(ctx, keyID, period, n)
		must(t, err)
		if got != want {
			t.Fatalf("add %d to %s at %s: total %d, want %d", n, keyID, period.Format(time.RFC3339), got, want)
		}
	}

	t.Run("totals", func(t *testing.T) {
		s := newStore(t)
		add(t, s, "app/k1", day, 1, 1)
		add(t, s, "app/k1", day, 5, 6)
		add(t, s, "app/k2", day, 2, 2) // keys count apart
		add(t, s, "app/k1", day, 0, 6)
		// The same instant in another zone is the same period.
		add(t, s, "app/k1", day.In(time.FixedZone("X", -7*3600)), 4, 10)
		// A new period starts from zero.
		next := day.AddDate(0, 0, 1)
		add(t, s, "app/k1", next, 3, 3)
		add(t, s, "app/k1", next, 3, 6)
		add(t, s, "app/k2", day, 1, 3)
		add(t, s, "app/k2", next.AddDate(0, 1, 0), 7, 7)
	})
	t.Run("delete stack", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		must(t, s.PutAPIKey(ctx, core.APIKey{ID: "k1", Stack: "app", Stage: "dev", Hash: "h1"}))
		add(t, s, "app/k1", day, 5, 5)
		add(t, s, "app/k9", day, 5, 5) // a key already deleted
		add(t, s, "apple/k1", day, 5, 5)
		add(t, s, "ap/k1", day, 5, 5)
		must(t, s.DeleteStack(ctx, "app"))
		add(t, s, "app/k1", day, 1, 1)
		add(t, s, "app/k9", day, 1, 1)
		// Stacks whose names share a prefix keep theirs.
		add(t, s, "apple/k1", day, 1, 6)
		add(t, s, "ap/k1", day, 1, 6)
	})
	t.Run("rolled back with its transaction", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx store.Store) error {
			add(t, tx, "app/k1", day, 5, 5)
			add(t, tx, "app/k1", day, 1, 6)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx err = %v", err)
		}
		add(t, s, "app/k1", day, 1, 1)
	})
}
