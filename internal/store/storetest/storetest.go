// Package storetest is the conformance suite every store.Store
// implementation runs from its own tests.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// Run exercises s, which must be empty.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	t.Run("stacks", func(t *testing.T) {
		s := newStore(t)
		st := core.Stack{Name: "hello", Spec: core.StackSpec{Name: "hello", Port: 8000}, CreatedAt: time.Unix(10, 0).UTC()}
		must(t, s.CreateStack(ctx, st))
		if err := s.CreateStack(ctx, st); core.CodeOf(err) != core.CodeConflict {
			t.Fatalf("second create: got %v, want conflict", err)
		}
		got, err := s.GetStack(ctx, "hello")
		must(t, err)
		if got.Spec.Port != 8000 || !got.CreatedAt.Equal(st.CreatedAt) {
			t.Fatalf("got %+v", got)
		}
		got.Spec.Port = 9000
		must(t, s.UpdateStack(ctx, got))
		got, _ = s.GetStack(ctx, "hello")
		if got.Spec.Port != 9000 {
			t.Fatalf("update lost: %+v", got)
		}
		must(t, s.CreateStack(ctx, core.Stack{Name: "abc"}))
		list, err := s.ListStacks(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Name != "abc" || list[1].Name != "hello" {
			t.Fatalf("list: %+v", list)
		}
		if _, err := s.GetStack(ctx, "nope"); !core.IsNotFound(err) {
			t.Fatalf("get unknown: %v", err)
		}
		if err := s.UpdateStack(ctx, core.Stack{Name: "nope"}); !core.IsNotFound(err) {
			t.Fatalf("update unknown: %v", err)
		}
	})
	t.Run("builds, releases and delete", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		for i := 1; i <= 11; i++ {
			n, err := s.NextSeq(ctx, "app", "build")
			must(t, err)
			if n != i {
				t.Fatalf("seq %d, want %d", n, i)
			}
			must(t, s.PutBuild(ctx, core.Build{ID: "b" + itoa(n), Stack: "app", Status: core.BuildRunning}))
		}
		b, err := s.GetBuild(ctx, "app", "b3")
		must(t, err)
		b.Status = core.BuildSucceeded
		must(t, s.PutBuild(ctx, b))
		builds, err := s.ListBuilds(ctx, "app")
		must(t, err)
		if len(builds) != 11 || builds[0].ID != "b11" || builds[10].ID != "b1" || builds[8].Status != core.BuildSucceeded {
			t.Fatalf("builds not newest first or update lost: %v", ids(builds))
		}
		must(t, s.PutRelease(ctx, core.Release{ID: "r1", Stack: "app", Stage: "dev", Build: "b3"}))
		must(t, s.PutRelease(ctx, core.Release{ID: "r2", Stack: "app", Stage: "prod", Build: "b3"}))
		must(t, s.PutRelease(ctx, core.Release{ID: "r3", Stack: "app", Stage: "dev", Build: "b4"}))
		dev, err := s.ListReleases(ctx, "app", "dev")
		must(t, err)
		if len(dev) != 2 || dev[0].ID != "r3" {
			t.Fatalf("dev releases: %+v", dev)
		}
		all, _ := s.ListReleases(ctx, "app", "")
		if len(all) != 3 {
			t.Fatalf("all releases: %+v", all)
		}
		must(t, s.SetStageRelease(ctx, "app", "dev", "r1"))
		must(t, s.SetStageRelease(ctx, "app", "dev", "r3"))
		srs, err := s.StageReleases(ctx)
		must(t, err)
		if len(srs) != 1 || srs[0].Release != "r3" {
			t.Fatalf("stage releases: %+v", srs)
		}
		must(t, s.DeleteStack(ctx, "app"))
		if _, err := s.GetBuild(ctx, "app", "b3"); !core.IsNotFound(err) {
			t.Fatalf("build survived delete: %v", err)
		}
		if srs, _ := s.StageReleases(ctx); len(srs) != 0 {
			t.Fatalf("stage releases survived delete: %+v", srs)
		}
		if err := s.DeleteStack(ctx, "app"); !core.IsNotFound(err) {
			t.Fatalf("second delete: %v", err)
		}
		// Sequences survive deletion so image tags are never reused.
		n, _ := s.NextSeq(ctx, "app", "build")
		if n != 12 {
			t.Fatalf("seq after delete = %d, want 12", n)
		}
	})
	t.Run("events", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "ev"}))
		for i := 1; i <= 5; i++ {
			must(t, s.AddEvent(ctx, core.StageEvent{Stack: "ev", Stage: "dev", Type: "scale", Message: "m" + itoa(i)}))
		}
		must(t, s.AddEvent(ctx, core.StageEvent{Stack: "ev", Stage: "prod", Type: "rollout", Message: "other"}))
		evs, err := s.ListEvents(ctx, "ev", "dev", 3)
		must(t, err)
		if len(evs) != 3 || evs[0].Message != "m5" || evs[2].Message != "m3" {
			t.Fatalf("events not newest first or limit ignored: %+v", evs)
		}
		must(t, s.DeleteStack(ctx, "ev"))
		if evs, _ := s.ListEvents(ctx, "ev", "prod", 10); len(evs) != 0 {
			t.Fatalf("events survived delete: %+v", evs)
		}
	})
	t.Run("transactions", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx store.Store) error {
			must(t, tx.CreateStack(ctx, core.Stack{Name: "gone"}))
			return tx.Tx(ctx, func(inner store.Store) error {
				must(t, inner.PutSetting(ctx, "k", "v"))
				return boom
			})
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx err = %v", err)
		}
		if _, err := s.GetStack(ctx, "gone"); !core.IsNotFound(err) {
			t.Fatalf("rolled back stack exists: %v", err)
		}
		if _, err := s.GetSetting(ctx, "k"); !core.IsNotFound(err) {
			t.Fatalf("rolled back setting exists: %v", err)
		}
		must(t, s.Tx(ctx, func(tx store.Store) error { return tx.PutSetting(ctx, "k", "v2") }))
		v, err := s.GetSetting(ctx, "k")
		if err != nil || v != "v2" {
			t.Fatalf("setting = %q, %v", v, err)
		}
	})
	t.Run("usage", func(t *testing.T) { usage(t, newStore) })
	t.Run("api keys", func(t *testing.T) { apiKeys(t, newStore) })
	t.Run("quota use", func(t *testing.T) { quotaUse(t, newStore) })
	t.Run("domains", func(t *testing.T) { domains(t, newStore) })
	t.Run("alarms", func(t *testing.T) { alarms(t, newStore) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

func ids(bs []core.Build) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}
