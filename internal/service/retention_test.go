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
	releases := map[string][]core.Release{
		"dev":  {{Build: "b6"}, {Build: "b4"}, {Build: "b3"}},
		"prod": {{Build: "b1"}}, // prod still runs an old build
	}
	got := keepSet(2, builds, releases, map[string]string{"qa": "b2"})
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// b6, b4: the newest two successful builds; b1: prod's release; b2:
	// awaiting approval; b3 is dev's third release, beyond keep.
	if want := []string{"b1", "b2", "b4", "b6"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("kept %v, want %v", ids, want)
	}
}
