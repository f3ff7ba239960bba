// Package quotatest is the conformance suite every limit.QuotaStore
// runs: the in-memory one in package limit, the SQLite one in the store.
package quotatest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/endpoint/limit"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) limit.QuotaStore) {
	ctx := context.Background()
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	next := day.AddDate(0, 0, 1)

	add := func(t *testing.T, s limit.QuotaStore, key string, start time.Time, n, want int64) {
		t.Helper()
		got, err := s.Add(ctx, key, start, n)
		if err != nil {
			t.Fatalf("Add(%s, %s, %d): %v", key, start, n, err)
		}
		if got != want {
			t.Fatalf("Add(%s, %s, %d) = %d, want %d", key, start, n, got, want)
		}
	}

	t.Run("read of an unknown period is 0", func(t *testing.T) {
		add(t, newStore(t), "k1", day, 0, 0)
	})
	t.Run("adds accumulate and n=0 reads", func(t *testing.T) {
		s := newStore(t)
		add(t, s, "k1", day, 3, 3)
		add(t, s, "k1", day, 4, 7)
		add(t, s, "k1", day, 0, 7)
	})
	t.Run("keys and periods are separate", func(t *testing.T) {
		s := newStore(t)
		add(t, s, "k1", day, 5, 5)
		add(t, s, "k2", day, 2, 2)
		add(t, s, "k1", next, 1, 1)
		add(t, s, "k1", day, 0, 5)
	})
	t.Run("period start is an instant, not a location", func(t *testing.T) {
		s := newStore(t)
		add(t, s, "k1", day, 2, 2)
		add(t, s, "k1", day.In(time.FixedZone("UTC+5", 5*3600)), 1, 3)
	})
	t.Run("concurrent adds are not lost", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 25 {
					if _, err := s.Add(ctx, "k1", day, 2); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		add(t, s, "k1", day, 0, 1000)
	})
	t.Run("a cancelled context fails", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := newStore(t).Add(c, "k1", day, 1); err == nil {
			t.Error("Add with a cancelled context: no error")
		}
	})
}
