package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// domains exercises PutDomain, ListDomains, DeleteDomain and DeleteStack
// removing domains.
func domains(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	domain := func(name, stack, stage string) core.Domain {
		return core.Domain{Name: name, Stack: stack, Stage: stage, CreatedAt: t0}
	}
	names := func(t *testing.T, s store.Store, stack string) []string {
		t.Helper()
		ds, err := s.ListDomains(ctx, stack)
		must(t, err)
		out := []string{}
		for _, d := range ds {
			out = append(out, d.Name)
		}
		return out
	}

	t.Run("put, list and conflicts", func(t *testing.T) {
		s := newStore(t)
		if got, err := s.ListDomains(ctx, ""); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("empty store: got %#v, %v; want an empty list", got, err)
		}
		must(t, s.PutDomain(ctx, domain("www.example.com", "app", "prod")))
		must(t, s.PutDomain(ctx, domain("api.example.com", "app", "prod")))
		must(t, s.PutDomain(ctx, domain("dev.example.com", "app", "dev")))
		must(t, s.PutDomain(ctx, domain("b.other.dev", "other", "prod")))
		// The same domain for the same stage again is no change.
		again := domain("api.example.com", "app", "prod")
		again.CreatedAt = t0.Add(time.Hour)
		must(t, s.PutDomain(ctx, again))

		got, err := s.ListDomains(ctx, "app")
		must(t, err)
		if len(got) != 3 || got[0].Name != "api.example.com" || got[0].Stack != "app" || got[0].Stage != "prod" {
			t.Fatalf("app domains: %+v", got)
		}
		if want := []string{"api.example.com", "dev.example.com", "www.example.com"}; !reflect.DeepEqual(names(t, s, "app"), want) {
			t.Fatalf("app domains: got %v, want %v, by name", names(t, s, "app"), want)
		}
		if want := []string{"api.example.com", "b.other.dev", "dev.example.com", "www.example.com"}; !reflect.DeepEqual(names(t, s, ""), want) {
			t.Fatalf("every stack's domains: got %v, want %v", names(t, s, ""), want)
		}
		if got := names(t, s, "nope"); len(got) != 0 {
			t.Fatalf("unknown stack: %v", got)
		}
		// Another stage of the same stack, or another stack's stage of
		// the same name: both conflict and change nothing.
		for _, d := range []core.Domain{domain("api.example.com", "app", "dev"), domain("api.example.com", "other", "prod")} {
			if err := s.PutDomain(ctx, d); core.CodeOf(err) != core.CodeConflict {
				t.Fatalf("put %s for %s/%s: got %v, want conflict", d.Name, d.Stack, d.Stage, err)
			}
		}
		if got := names(t, s, "other"); !reflect.DeepEqual(got, []string{"b.other.dev"}) {
			t.Fatalf("other after conflicts: %v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		must(t, s.CreateStack(ctx, core.Stack{Name: "app"}))
		must(t, s.CreateStack(ctx, core.Stack{Name: "other"}))
		must(t, s.PutDomain(ctx, domain("a.example.com", "app", "prod")))
		must(t, s.PutDomain(ctx, domain("b.example.com", "app", "dev")))
		must(t, s.PutDomain(ctx, domain("c.example.com", "other", "prod")))
		must(t, s.DeleteDomain(ctx, "a.example.com"))
		if err := s.DeleteDomain(ctx, "a.example.com"); !core.IsNotFound(err) {
			t.Fatalf("second delete: got %v, want not found", err)
		}
		if err := s.DeleteDomain(ctx, "nope.example.com"); !core.IsNotFound(err) {
			t.Fatalf("delete unknown: got %v, want not found", err)
		}
		// A deleted domain is free for another stage.
		must(t, s.PutDomain(ctx, domain("a.example.com", "other", "dev")))
		must(t, s.DeleteStack(ctx, "app"))
		if got := names(t, s, ""); !reflect.DeepEqual(got, []string{"a.example.com", "c.example.com"}) {
			t.Fatalf("after stack delete: %v", got)
		}
		must(t, s.PutDomain(ctx, domain("b.example.com", "other", "prod")))
	})
}
