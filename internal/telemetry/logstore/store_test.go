package logstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is an injectable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendLines(t *testing.T, s *Store, k Key, c *clock, n int, format string) {
	t.Helper()
	for i := range n {
		now := c.Now()
		if err := s.Append(k, now, Line{Time: now, Instance: "web-1", Stream: "stdout", Text: fmt.Sprintf(format, i)}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
	}
}

func readAll(t *testing.T, s *Store, q Query) []Line {
	t.Helper()
	var out []Line
	err := s.Read(context.Background(), q, func(e Entry) error {
		var l Line
		if err := json.Unmarshal(e.JSON, &l); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func texts(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Text + ";")
	}
	return b.String()
}

func segmentsOf(t *testing.T, s *Store, k Key) []segment {
	t.Helper()
	segs, err := listSegments(k.dir(s.cfg.Dir))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

var web = Key{Stack: "shop", Stage: "dev", Kind: Runtime}

func TestRotatesBySizeAndByDay(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{MaxBytes: 1 << 20, SegmentBytes: 1000, Now: c.Now})
	appendLines(t, s, web, c, 40, "line %02d") // ~110 bytes each: several segments
	s.Close()
	segs := segmentsOf(t, s, web)
	if len(segs) < 4 {
		t.Fatalf("%d segments after 4 KB at 1000 bytes each, want at least 4", len(segs))
	}
	for _, seg := range segs {
		if seg.Size > 1000 {
			t.Errorf("segment %s is %d bytes, over the 1000 it rotates at", seg.Path, seg.Size)
		}
	}
	// A new day starts a new segment, even a small one.
	s = open(t, Config{Dir: s.cfg.Dir, MaxBytes: 1 << 20, SegmentBytes: 1000, Now: c.Now})
	appendLines(t, s, web, c, 1, "same day %d")
	c.Add(24 * time.Hour)
	appendLines(t, s, web, c, 1, "next day %d")
	s.Close()
	after := segmentsOf(t, s, web)
	if len(after) != len(segs)+1 {
		t.Fatalf("%d segments, want %d: the reopened store appends to the last one, and the next day opens one", len(after), len(segs)+1)
	}
	if day := after[len(after)-1].Created.Day(); day != 23 {
		t.Errorf("the last segment was created on day %d, want 23", day)
	}
	got := readAll(t, s, Query{Keys: []Key{web}})
	if len(got) != 42 || got[0].Text != "line 00" || got[41].Text != "next day 0" {
		t.Fatalf("read %d lines across segments: %s", len(got), texts(got))
	}
}

func TestRetentionByAge(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{MaxAge: 3 * 24 * time.Hour, MaxBytes: 1 << 20, Now: c.Now})
	for day := range 6 {
		appendLines(t, s, web, c, 2, fmt.Sprintf("day %d line %%d", day))
		c.Add(24 * time.Hour)
	}
	// Rotation on each new day already deleted segments that ended
	// more than 3 days before: days 0 and 1 (day 1's ended on day 2's
	// first entry, 4 days before day 5 started).
	got := texts(readAll(t, s, Query{Keys: []Key{web}}))
	if strings.Contains(got, "day 0") || strings.Contains(got, "day 1") || !strings.Contains(got, "day 2 line 0") || !strings.Contains(got, "day 5 line 1") {
		t.Fatalf("after 6 days with 3 days' retention: %s", got)
	}
	// A quiet stream goes entirely once its last write is old enough:
	// the sweep judges the live segment by its last write.
	s.Close()
	c.t = t0.Add(10 * 24 * time.Hour) // after day 5's last write, and the files' real mtimes, by over 3 days
	if real := time.Now().Add(4 * 24 * time.Hour); real.After(c.t) {
		c.t = real
	}
	s = open(t, Config{Dir: s.cfg.Dir, MaxAge: 3 * 24 * time.Hour, MaxBytes: 1 << 20, Now: c.Now})
	s.Sweep()
	if segs := segmentsOf(t, s, web); len(segs) != 0 {
		t.Fatalf("%d segments left of a stream quiet for 4 days, want none", len(segs))
	}
}

func TestSizeCapDeletesOldestSegments(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{MaxBytes: 2000, SegmentBytes: 500, Now: c.Now})
	other := Key{Stack: "shop", Stage: "prod", Kind: Runtime}
	appendLines(t, s, other, c, 3, "prod %d")
	appendLines(t, s, web, c, 100, "line %03d")
	s.flushAll(false)
	var total int64
	segs := segmentsOf(t, s, web)
	for _, seg := range segs {
		total += seg.Size
	}
	if total > 2000 {
		t.Fatalf("%d bytes in %d segments, over the 2000 cap", total, len(segs))
	}
	if segs[0].Seq == 1 {
		t.Fatalf("the oldest segment survived the cap")
	}
	got := readAll(t, s, Query{Keys: []Key{web}})
	if len(got) == 0 || got[len(got)-1].Text != "line 099" || got[0].Text == "line 000" {
		t.Fatalf("after the cap: %s", texts(got))
	}
	// Each stream has its own cap.
	if got := readAll(t, s, Query{Keys: []Key{other}}); len(got) != 3 {
		t.Fatalf("prod lost lines to dev's cap: %s", texts(got))
	}
}

func TestReadSinceUntilGrepTail(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{SegmentBytes: 600, Now: c.Now})
	appendLines(t, s, web, c, 30, "req %02d <ok>")
	prod := Key{Stack: "shop", Stage: "prod", Kind: Runtime}
	s.Append(prod, t0.Add(1500*time.Millisecond), Line{Time: t0.Add(1500 * time.Millisecond), Instance: "p-1", Stream: "stderr", Text: `say "hi"`})
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"since", Query{Since: t0.Add(27 * time.Second)}, "req 27 <ok>;req 28 <ok>;req 29 <ok>;"},
		{"until", Query{Until: t0.Add(2 * time.Second)}, "req 00 <ok>;req 01 <ok>;"},
		{"tail", Query{Tail: 2}, "req 28 <ok>;req 29 <ok>;"},
		{"grep", Query{Grep: "req 1"}, "req 10 <ok>;req 11 <ok>;req 12 <ok>;req 13 <ok>;req 14 <ok>;req 15 <ok>;req 16 <ok>;req 17 <ok>;req 18 <ok>;req 19 <ok>;"},
		{"grep html and tail", Query{Grep: "<ok>", Tail: 1}, "req 29 <ok>;"},
		{"grep matches the line, not the fields", Query{Grep: "stdout"}, ""},
		{"grep quotes", Query{Keys: []Key{prod}, Grep: `"hi"`}, `say "hi";`},
		{"merged by time", Query{Keys: []Key{web, prod}, Until: t0.Add(3 * time.Second)}, `req 00 <ok>;req 01 <ok>;say "hi";req 02 <ok>;`},
		{"unknown stream", Query{Keys: []Key{{Stack: "none", Stage: "dev", Kind: Access}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Keys == nil {
				tc.q.Keys = []Key{web}
			}
			if got := texts(readAll(t, s, tc.q)); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFollowReceivesNewEntries(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{SegmentBytes: 4000, Now: c.Now})
	appendLines(t, s, web, c, 5, "old %d")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10000)
	done := make(chan error, 1)
	stall := make(chan struct{}) // the follower stalls on its first new entry until all are written
	go func() {
		done <- s.Follow(ctx, Query{Keys: []Key{web}, Tail: 2, Match: func(e Entry) bool { return !strings.Contains(string(e.JSON), "skip") }}, func(e Entry) error {
			var l Line
			json.Unmarshal(e.JSON, &l)
			got <- l.Text
			if l.Text == "new 0" {
				<-stall
			}
			return nil
		})
	}()
	for _, w := range []string{"old 3", "old 4"} { // the tail, before anything new
		select {
		case g := <-got:
			if g != w {
				t.Fatalf("tail: got %q, want %q", g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("follow did not give the tail")
		}
	}
	var want []string
	// Many more than the follower's buffer, appended while it stalls:
	// it falls behind, yet must see each exactly once, in order.
	for i := range 3 * subBuffer {
		want = append(want, fmt.Sprintf("new %d", i))
		appendLines(t, s, web, c, 1, fmt.Sprintf("new %d", i)+"%.0d")
		appendLines(t, s, web, c, 1, "skip: n%.0d")
	}
	close(stall)
	for i, w := range want {
		select {
		case g := <-got:
			if g != w {
				t.Fatalf("entry %d: got %q, want %q", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("follow stopped after %d of %d entries", i, len(want))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v, want nil when its context ends", err)
	}
	if len(got) != 0 {
		t.Fatalf("extra entry %q", <-got)
	}
}

func TestFollowEndsAtUntil(t *testing.T) {
	s := open(t, Config{})
	err := s.Follow(context.Background(), Query{Keys: []Key{web}, Until: time.Now().Add(50 * time.Millisecond)}, func(Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoveAndBadKeys(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{Now: c.Now})
	appendLines(t, s, web, c, 1, "x %d")
	build := Key{Stack: "shop", Kind: Build}
	if err := s.Append(build, t0, Line{Time: t0, Text: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Dir, "shop", StackStage, "build")); err != nil {
		t.Fatalf("build logs are not under the stack's %s dir: %v", StackStage, err)
	}
	if err := s.Remove("shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Dir, "shop")); !os.IsNotExist(err) {
		t.Fatalf("remove left the stack's logs: %v", err)
	}
	for _, k := range []Key{{Stack: "../x", Stage: "dev", Kind: Runtime}, {Stack: "s", Stage: ".", Kind: Runtime}, {Stack: "s", Kind: "nope"}, {Stage: "dev", Kind: Runtime}} {
		if err := s.Append(k, t0, Line{Time: t0}); err == nil {
			t.Errorf("append to %v worked", k)
		}
	}
	s.Close()
	if err := s.Append(web, t0, Line{Time: t0}); err != ErrClosed {
		t.Errorf("append after close: %v", err)
	}
}
