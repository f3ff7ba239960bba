package service

import (
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestRollbackTarget(t *testing.T) {
	rels := []core.Release{ // newest first
		{ID: "r5", Status: core.ReleaseFailed, Image: "i5"},
		{ID: "r4", Status: core.ReleaseActive, Image: "i4"},
		{ID: "r3", Status: core.ReleaseFailed, Image: "i3"},
		{ID: "r2", Status: core.ReleaseSuperseded, Image: "i2"},
		{ID: "r1", Status: core.ReleaseSuperseded, Image: "i1"},
	}
	cases := []struct{ serving, to, want, err string }{
		{serving: "r4", want: "r2"},           // skips the failed r3
		{serving: "r4", to: "r1", want: "r1"}, // an explicit one
		{serving: "r4", to: "r3", err: "never served"},
		{serving: "r4", to: "r4", err: "already serving"},
		{serving: "r4", to: "r9", err: "no release r9"},
		{serving: "r1", err: "nothing to roll back to"},
	}
	for _, tc := range cases {
		got, err := rollbackTarget(rels, tc.serving, tc.to)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: got %v, want an error with %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("%+v: got %s %v, want %s", tc, got.ID, err, tc.want)
		}
	}
}
