package logstore

import (
	"testing"
	"time"
)

func TestExpired(t *testing.T) {
	now := t0.Add(100 * 24 * time.Hour)
	day := func(d int) time.Time { return t0.Add(time.Duration(d) * 24 * time.Hour) }
	segs := []segment{
		{Seq: 1, Created: day(0), Size: 100},
		{Seq: 2, Created: day(5), Size: 100},
		{Seq: 3, Created: day(50), Size: 100},
		{Seq: 4, Created: day(99), Size: 100, ModTime: day(100)},
	}
	for _, tc := range []struct {
		name string
		r    Retention
		segs []segment
		want []int
	}{
		{"nothing to do", Retention{MaxAge: 200 * 24 * time.Hour, MaxBytes: 1000}, segs, nil},
		{"by age: ended before now-90d", Retention{MaxAge: 90 * 24 * time.Hour}, segs, []int{1}},
		{"by age: segment 2 ended on day 50", Retention{MaxAge: 49 * 24 * time.Hour}, segs, []int{1, 2}},
		{"by size: oldest first", Retention{MaxBytes: 250}, segs, []int{1, 2}},
		{"by size: the newest stays", Retention{MaxBytes: 50}, segs, []int{1, 2, 3}},
		{"a quiet newest segment goes by age", Retention{MaxAge: time.Hour}, []segment{{Seq: 1, Created: day(1), ModTime: day(2)}}, []int{1}},
		{"none", Retention{MaxAge: time.Hour, MaxBytes: 1}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for _, s := range expired(tc.segs, now, tc.r) {
				got = append(got, s.Seq)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSegmentNames(t *testing.T) {
	name := segmentName(42, time.Date(2026, 11, 22, 8, 3, 4, 999, time.UTC))
	if name != "00000042-20261122T080304Z.ndjson" {
		t.Fatalf("name %s", name)
	}
	seq, created, ok := parseSegmentName(name)
	if !ok || seq != 42 || !created.Equal(time.Date(2026, 11, 22, 8, 3, 4, 0, time.UTC)) {
		t.Fatalf("parsed %d %s %v", seq, created, ok)
	}
	for _, bad := range []string{"access.ndjson", "x-20261122T080304Z.ndjson", "00000001-yesterday.ndjson", "00000001-20261122T080304Z.json"} {
		if _, _, ok := parseSegmentName(bad); ok {
			t.Errorf("%s parsed as a segment", bad)
		}
	}
}
