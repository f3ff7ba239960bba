package logstore

import (
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/engine"
)

func TestResumeSkipsWhatIsStored(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, Config{SegmentBytes: 300, Now: c.Now})
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	put := func(id string, sec int, stream, text string) {
		if err := s.Append(web, at(sec), Line{Time: at(sec), Instance: "i-" + id, Container: id, Stream: stream, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 { // several segments of another container
		put("bbbbbbbbbbbb", i, Stdout, "other")
	}
	put("aaaaaaaaaaaa", 3, Stdout, "early")
	put("aaaaaaaaaaaa", 5, Stdout, "x")
	put("aaaaaaaaaaaa", 5, Stderr, "x")
	put("aaaaaaaaaaaa", 5, Stdout, "x")
	for i := range 10 {
		put("bbbbbbbbbbbb", 10+i, Stdout, "other later")
	}
	cur := s.lastLines(web, "aaaaaaaaaaaa", time.Time{})
	if !cur.time.Equal(at(5)) || cur.atTime[lineKey{Stdout, "x"}] != 2 || cur.atTime[lineKey{Stderr, "x"}] != 1 {
		t.Fatalf("cursor %v %v", cur.time, cur.atTime)
	}
	// Docker sends again everything since second 5, inclusive.
	cur.begin()
	var stored []string
	for _, l := range []engine.LogLine{
		{Stream: Stdout, Time: at(5), Text: "x"},
		{Stream: Stderr, Time: at(5), Text: "x"},
		{Stream: Stdout, Time: at(5), Text: "x"},
		{Stream: Stdout, Time: at(5), Text: "new at the same time"},
		{Stream: Stdout, Time: at(6), Text: "x"},
		{Stream: Stdout, Time: at(6), Text: "x"},
	} {
		if !cur.skip(l) {
			stored = append(stored, l.Text)
		}
	}
	if len(stored) != 3 || stored[0] != "new at the same time" || stored[1] != "x" || stored[2] != "x" {
		t.Fatalf("stored again %q", stored)
	}
	// The next read (the container restarted) resends both x at 6.
	cur.begin()
	if !cur.skip(engine.LogLine{Stream: Stdout, Time: at(6), Text: "x"}) || !cur.skip(engine.LogLine{Stream: Stdout, Time: at(6), Text: "x"}) || cur.skip(engine.LogLine{Stream: Stdout, Time: at(6), Text: "x"}) {
		t.Fatal("a second read from the same cursor did not skip exactly the two lines stored at its time")
	}
	if cur := s.lastLines(web, "cccccccccccc", time.Time{}); !cur.time.IsZero() {
		t.Fatalf("a container with nothing stored resumes from %v", cur.time)
	}
	// A container started after every segment ended is not searched for.
	if cur := s.lastLines(web, "aaaaaaaaaaaa", time.Now().Add(time.Hour)); !cur.time.IsZero() {
		t.Fatalf("notBefore ignored: %v", cur.time)
	}
}
