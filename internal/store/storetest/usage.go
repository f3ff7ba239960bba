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

// usage exercises AddUsage, ListUsage, DeleteUsageBefore and DeleteStack
// removing usage.
func usage(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	bucket := func(stack, stage string, m int, requests int64, maxMS float64, durations ...int64) core.UsageBucket {
		return core.UsageBucket{Stack: stack, Stage: stage, Minute: at(m), Requests: requests,
			BilledMS: 10 * requests, GBSeconds: 0.5 * float64(requests), ColdStarts: 1, InitMS: 100,
			Throttles: 2, Errors: 3, Timeouts: 4, MaxMS: maxMS, Durations: durations}
	}
	list := func(t *testing.T, s store.Store, stack, stage string, since, until time.Time) []core.UsageBucket {
		t.Helper()
		got, err := s.ListUsage(ctx, stack, stage, since, until)
		must(t, err)
		return got
	}

	t.Run("merge", func(t *testing.T) {
		s := newStore(t)
		must(t, s.AddUsage(ctx, nil))
		must(t, s.AddUsage(ctx, []core.UsageBucket{bucket("app", "dev", 0, 1, 7, 1, 0, 2)}))
		// The same minute again, twice in one call, once given off the
		// minute in another zone: all merge into the stored bucket.
		off := bucket("app", "dev", 0, 4, 3, 0, 0, 1)
		off.Minute = at(0).Add(25 * time.Second).In(time.FixedZone("X", 5*3600))
		must(t, s.AddUsage(ctx, []core.UsageBucket{bucket("app", "dev", 0, 2, 9, 0, 5, 1), off}))
		// One with no histogram leaves the stored one as it is.
		must(t, s.AddUsage(ctx, []core.UsageBucket{bucket("app", "dev", 0, 8, 1)}))
		got := list(t, s, "app", "dev", at(0), at(1))
		want := core.UsageBucket{Stack: "app", Stage: "dev", Minute: at(0), Requests: 15, BilledMS: 150,
			GBSeconds: 7.5, ColdStarts: 4, InitMS: 400, Throttles: 8, Errors: 12, Timeouts: 16, MaxMS: 9,
			Durations: []int64{1, 5, 4}}
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("merged bucket:\n got %+v\nwant %+v", got, want)
		}
		if got[0].Minute.Location() != time.UTC {
			t.Fatalf("minute %v is not UTC", got[0].Minute)
		}
	})
	t.Run("list windows and stages", func(t *testing.T) {
		s := newStore(t)
		must(t, s.AddUsage(ctx, []core.UsageBucket{
			bucket("app", "prod", 1, 1, 1), bucket("app", "dev", 0, 2, 1), bucket("app", "dev", 1, 3, 1),
			bucket("app", "dev", 2, 4, 1), bucket("app", "prod", 0, 5, 1), bucket("other", "dev", 1, 6, 1),
		}))
		type key struct {
			stage string
			m     int
		}
		keys := func(bs []core.UsageBucket) []key {
			out := []key{}
			for _, b := range bs {
				out = append(out, key{b.Stage, int(b.Minute.Sub(t0) / time.Minute)})
			}
			return out
		}
		for _, c := range []struct {
			name         string
			stage        string
			since, until time.Time
			want         []key
		}{
			{"all of dev, oldest first", "dev", at(-5), at(5), []key{{"dev", 0}, {"dev", 1}, {"dev", 2}}},
			{"since is inclusive, until exclusive", "dev", at(1), at(2), []key{{"dev", 1}}},
			{"empty window", "dev", at(1), at(1), []key{}},
			{"since past a minute's start excludes it", "dev", at(0).Add(time.Second), at(2).Add(time.Nanosecond), []key{{"dev", 1}, {"dev", 2}}},
			{"until just past a minute's start includes it", "dev", at(2), at(2).Add(time.Nanosecond), []key{{"dev", 2}}},
			{"every stage, oldest first, by stage", "", at(0), at(2), []key{{"dev", 0}, {"prod", 0}, {"dev", 1}, {"prod", 1}}},
			{"unknown stage", "staging", at(-5), at(5), []key{}},
		} {
			got := list(t, s, "app", c.stage, c.since, c.until)
			if !reflect.DeepEqual(keys(got), c.want) {
				t.Errorf("%s: got %v, want %v", c.name, keys(got), c.want)
			}
		}
		if got := list(t, s, "app", "", at(0), at(1)); len(got) != 2 || got[0].Requests != 2 || got[1].Requests != 5 {
			t.Errorf("every stage at one minute: %+v", got)
		}
		if got := list(t, s, "nope", "", at(-5), at(5)); got == nil || len(got) != 0 {
			t.Errorf("unknown stack: got %#v, want an empty list", got)
		}
	})
	t.Run("retention and delete", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		must(t, s.CreateStack(ctx, core.Stack{Name: "other"}))
		must(t, s.AddUsage(ctx, []core.UsageBucket{
			bucket("app", "dev", 0, 1, 1), bucket("app", "prod", 0, 1, 1), bucket("app", "dev", 1, 1, 1),
			bucket("other", "dev", 0, 1, 1), bucket("other", "dev", 2, 1, 1),
		}))
		n, err := s.DeleteUsageBefore(ctx, at(1))
		must(t, err)
		if n != 3 {
			t.Fatalf("deleted %d buckets before minute 1, want 3", n)
		}
		if got := list(t, s, "app", "", at(-5), at(5)); len(got) != 1 || !got[0].Minute.Equal(at(1)) {
			t.Fatalf("app after retention: %+v", got)
		}
		// A bound just past a minute's start removes that minute too.
		n, err = s.DeleteUsageBefore(ctx, at(1).Add(time.Nanosecond))
		must(t, err)
		if n != 1 {
			t.Fatalf("deleted %d buckets before minute 1+1ns, want 1", n)
		}
		must(t, s.DeleteStack(ctx, "other"))
		if got := list(t, s, "other", "", at(-5), at(5)); len(got) != 0 {
			t.Fatalf("usage survived delete: %+v", got)
		}
		must(t, s.AddUsage(ctx, []core.UsageBucket{bucket("app", "dev", 3, 1, 1)}))
		must(t, s.DeleteStack(ctx, "app"))
		if got := list(t, s, "app", "", at(-5), at(5)); len(got) != 0 {
			t.Fatalf("usage survived delete: %+v", got)
		}
	})
	t.Run("rolled back with its transaction", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx store.Store) error {
			must(t, tx.AddUsage(ctx, []core.UsageBucket{bucket("app", "dev", 0, 1, 1)}))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx err = %v", err)
		}
		if got := list(t, s, "app", "dev", at(-5), at(5)); len(got) != 0 {
			t.Fatalf("rolled back usage exists: %+v", got)
		}
	})
}
