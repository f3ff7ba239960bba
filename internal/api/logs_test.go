package api

import (
	"bytes"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

func TestLogQuery(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		params map[string]string
		err    string
		check  func(t *testing.T, kind logstore.Kind, since, until time.Time, tail int)
	}{
		{params: map[string]string{}, check: func(t *testing.T, kind logstore.Kind, since, until time.Time, tail int) {
			if kind != logstore.Runtime || !since.IsZero() || !until.IsZero() || tail != 0 {
				t.Errorf("defaults: %s %s %s %d", kind, since, until, tail)
			}
		}},
		{params: map[string]string{"kind": "release", "since": "2h", "until": "2026-11-22T09:30:00Z", "tail": "5"}, check: func(t *testing.T, kind logstore.Kind, since, until time.Time, tail int) {
			if kind != logstore.Release || !since.Equal(now.Add(-2*time.Hour)) || !until.Equal(now.Add(-30*time.Minute)) || tail != 5 {
				t.Errorf("got %s %s %s %d", kind, since, until, tail)
			}
		}},
		{params: map[string]string{"kind": "builds"}, err: `invalid log kind "builds": use runtime, build, release or access`},
		{params: map[string]string{"since": "yesterday"}, err: `since: invalid time "yesterday": use a duration like 10m, 2h or 3d, or an RFC 3339 time like 2026-11-22T08:00:00Z`},
		{params: map[string]string{"until": "-1h"}, err: `until: invalid time "-1h"`},
		{params: map[string]string{"tail": "-3"}, err: `tail must be a whole number of lines, got "-3"`},
		{params: map[string]string{"since": "1h", "until": "2h"}, err: "since (2026-11-22T09:00:00Z) must be before until (2026-11-22T08:00:00Z)"},
	} {
		lq, err := logQuery(func(k string) string { return tc.params[k] }, now)
		if tc.err != "" {
			if err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(tc.err)) {
				t.Errorf("%v: error %v, want %q", tc.params, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.params, err)
			continue
		}
		tc.check(t, lq.Kind, lq.Since, lq.Until, lq.Tail)
	}
}

func TestWriteLogText(t *testing.T) {
	for _, tc := range []struct {
		kind   logstore.Kind
		json   string
		stamps bool
		want   string
	}{
		{logstore.Runtime, `{"time":"2026-11-22T10:00:00.5Z","instance":"web-1","container":"abc","stream":"stderr","line":"boom <x>"}`, false, "boom <x>\n"},
		{logstore.Runtime, `{"time":"2026-11-22T10:00:00.5Z","instance":"web-1","container":"abc","stream":"stderr","line":"boom"}`, true, "2026-11-22T10:00:00.5Z web-1 stderr | boom\n"},
		{logstore.Build, `{"time":"2026-11-22T10:00:00Z","type":"step","message":"build b1 of stack s","build":"b1"}`, false, "2026-11-22T10:00:00Z b1 ==> build b1 of stack s\n"},
		{logstore.Release, `{"time":"2026-11-22T10:00:00Z","type":"error","message":"release.yml failed","details":["exit 5"],"build":"b1","release":"r2"}`, false, "2026-11-22T10:00:00Z r2 error: release.yml failed\n    exit 5\n"},
		{logstore.Access, `{"time":"2026-11-22T10:00:00Z","status":200}`, false, `{"time":"2026-11-22T10:00:00Z","status":200}` + "\n"},
	} {
		var b bytes.Buffer
		writeLogText(&b, logstore.Entry{Key: logstore.Key{Stack: "s", Stage: "dev", Kind: tc.kind}, JSON: []byte(tc.json)}, tc.stamps)
		if b.String() != tc.want {
			t.Errorf("%s: %q, want %q", tc.kind, b.String(), tc.want)
		}
	}
}
