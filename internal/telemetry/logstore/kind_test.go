package logstore

import (
	"testing"
	"time"
)

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"": Runtime, "runtime": Runtime, "build": Build, "release": Release, "access": Access} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseKind("builds"); err == nil || err.Error() != `invalid log kind "builds": use runtime, build, release or access` {
		t.Errorf("ParseKind(builds): %v", err)
	}
}

func TestParseSinceAgeSize(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"1h", now.Add(-time.Hour), true},
		{"3d", now.Add(-72 * time.Hour), true},
		{"2026-11-21T08:00:00Z", now.Add(-24 * time.Hour), true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	} {
		got, err := ParseSince(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseSince(%q) = %s, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"90d", 90 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true}, {"0d", 0, true}, {"1.5d", 0, false}, {"d", 0, false}, {"-3d", 0, false}, {"90", 0, false}} {
		got, err := ParseAge(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAge(%q) = %s, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"256MiB", 256 << 20, true}, {"64KiB", 64 << 10, true}, {"1G", 1 << 30, true}, {"4096", 4096, true}, {"4096B", 4096, true}, {"0", 0, false}, {"-1MiB", 0, false}, {"lots", 0, false}, {"1.5MiB", 0, false}} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}
