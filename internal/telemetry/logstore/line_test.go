package logstore

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// The collector's encoder must write what Append writes, so that lines
// read back the same whichever wrote them.
func TestLineAppendJSONMatchesAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	str := testutil.JSONStrings(3)
	for i := range 2000 {
		l := Line{Time: time.Unix(1700000000+int64(rng.IntN(1e6)), int64(rng.IntN(1e9))).In(time.UTC),
			Instance: str(), Container: str(), Stream: str(), Text: str()}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
		if got := l.appendJSON([]byte("{}")); !bytes.Equal(got[2:], want.Bytes()) {
			t.Fatalf("line %d:\n got %s\nwant %s", i, got[2:], want.Bytes())
		}
	}
}

// A cursor that moves to a new time for every line, as the collector's
// does under an app that logs each request, forgets the lines of the
// times before, and a line at the cursor's time is told apart by its
// stream and text.
func TestCursorMovesOn(t *testing.T) {
	cur := &cursor{}
	t0 := time.Unix(1700000000, 0)
	for i := range 100 {
		if cur.skip(engine.LogLine{Stream: Stdout, Time: t0.Add(time.Duration(i)), Text: "same"}) {
			t.Fatalf("line %d, at a new time, was skipped", i)
		}
		if len(cur.atTime) != 1 {
			t.Fatalf("after line %d the cursor holds %d lines at its time, want 1", i, len(cur.atTime))
		}
	}
	for range 40 { // a burst at one time, then the next time: the map is made anew
		cur.skip(engine.LogLine{Stream: Stderr, Time: t0.Add(200), Text: "burst"})
	}
	if cur.atTime[lineKey{Stderr, "burst"}] != 40 || cur.atTime[lineKey{Stdout, "burst"}] != 0 {
		t.Fatalf("cursor at the burst: %v", cur.atTime)
	}
	cur.skip(engine.LogLine{Stream: Stdout, Time: t0.Add(201), Text: "after"})
	if len(cur.atTime) != 1 || cur.atTime[lineKey{Stdout, "after"}] != 1 {
		t.Fatalf("cursor after the burst: %v", cur.atTime)
	}
	if !cur.skip(engine.LogLine{Stream: Stdout, Time: t0.Add(200), Text: "late"}) {
		t.Fatal("a line older than the cursor was not skipped")
	}
}

// BenchmarkCollectLine is what the collector does with each line an
// instance writes: check it against the cursor, encode it, store it.
func BenchmarkCollectLine(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), SegmentBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cur := &cursor{}
	t0 := time.Now()
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		l := engine.LogLine{Stream: Stdout, Time: t0.Add(time.Duration(i)), Text: `{"level":"info","msg":"GET /api/items 200 1.2ms"}`}
		if cur.skip(l) {
			b.Fatal("skipped")
		}
		line := Line{Time: l.Time, Instance: "slipway-shop-dev-r3-a1b2c3", Container: "0123456789ab", Stream: l.Stream, Text: l.Text}
		buf = line.appendJSON(buf[:0])
		if err := s.AppendLine(web, l.Time, buf); err != nil {
			b.Fatal(err)
		}
	}
}
