package service

import (
	"reflect"
	"sort"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestKeepSet(t *testing.T) {
	ok, bad := core.BuildSucceeded, core.BuildFailed
	builds := []core.Build{ // newest first
		{ID: "b6", Status: ok}, {ID: "b5", Status: bad}, {ID: "b4", Status: ok},
		{ID: "b3", Status: ok}, {ID: "b2", Status: ok}, {ID: "b1", Status: ok},
	}
	served, failed := core.ReleaseSuperseded, core.ReleaseFailed
	releases := map[string][]core.Release{
		"dev":  {{Build: "b6", Status: served}, {Build: "b3", Status: failed}, {Build: "b4", Status: served}, {Build: "b3", Status: served}},
		"prod": {{Build: "b1", Status: core.ReleaseActive}}, // prod still runs an old build
	}
	got := keepSet(2, builds, releases, map[string]string{"qa": "b2"}, nil)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// b6, b4: the newest two successful builds and dev's last two
	// releases that served (the failed one does not count); b1: prod's;
	// b2: awaiting approval; b3 served only as dev's third release.
	if want := []string{"b1", "b2", "b4", "b6"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("kept %v, want %v", ids, want)
	}
	// What serves is kept even beyond every other rule.
	if got := keepSet(1, builds, nil, nil, []string{"b2"}); !got["b2"] || !got["b6"] || len(got) != 2 {
		t.Fatalf("serving build not kept: %v", got)
	}
}
