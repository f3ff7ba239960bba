package server

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/web"
)

func TestRuntimeLines(t *testing.T) {
	out := "it-a-dev-2 | 2026-11-22T10:00:02.5Z second\nit-a-dev-1 | 2026-11-22T10:00:01Z first | with a bar\ngarbage\n2026-11-22T10:00:03Z solo\n"
	got := runtimeLines(out)
	if len(got) != 3 || got[0].Text != "first | with a bar" || got[0].Instance != "it-a-dev-1" || got[1].Instance != "it-a-dev-2" || got[2].Instance != "" || got[2].Text != "solo" {
		t.Fatalf("runtimeLines = %+v", got)
	}
	t1 := got[0].Time
	kept := filterLines(got, web.LogQuery{Since: t1, Grep: "o", Limit: 1})
	if len(kept) != 1 || kept[0].Text != "solo" {
		t.Fatalf("filterLines = %+v", kept)
	}
}
