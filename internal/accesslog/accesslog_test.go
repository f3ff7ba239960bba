package accesslog

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

func TestWriteRotateRead(t *testing.T) {
	dir := t.TempDir()
	st, err := logstore.Open(logstore.Config{Dir: dir, MaxBytes: 6000, SegmentBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := New(Config{Store: st})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 100; i++ {
		l.Record(Entry{Time: t0.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("r%03d", i), Stack: "s", Stage: "dev",
			Method: "GET", Path: "/p", Status: 200, APIKey: "mobile", ClientIP: "10.0.0.1"})
	}
	l.Record(Entry{Time: t0, RequestID: "other", Stack: "s", Stage: "prod", Status: 500})
	l.Record(Entry{Time: t0, RequestID: "unrouted"}) // no stack: not logged
	cancel()
	<-done

	// The store rotated the stage's access stream and kept it under its cap.
	files, _ := filepath.Glob(filepath.Join(dir, "s", "dev", "access", "*.ndjson"))
	if len(files) < 2 || len(files) > 3 {
		t.Fatalf("segments %v, want 2 or 3 of 2000 bytes under a 6000-byte cap", files)
	}
	read := func(stage string, q logstore.Query) []string {
		q.Keys = []logstore.Key{{Stack: "s", Stage: stage, Kind: logstore.Access}}
		var out []string
		if err := st.Read(context.Background(), q, func(e logstore.Entry) error {
			out = append(out, string(e.JSON))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	lines := read("dev", logstore.Query{Tail: 5})
	if len(lines) != 5 || !strings.Contains(lines[4], `"request_id":"r099"`) || !strings.Contains(lines[0], `"request_id":"r095"`) {
		t.Fatalf("tail 5:\n%s", strings.Join(lines, "\n"))
	}
	var e Entry
	if err := json.Unmarshal([]byte(lines[4]), &e); err != nil || e.APIKey != "mobile" || e.ClientIP != "10.0.0.1" || e.Stage != "dev" || !strings.HasPrefix(lines[4], `{"time":`) {
		t.Fatalf("entry %+v %v", e, err)
	}
	if n := len(read("dev", logstore.Query{Since: t0.Add(97 * time.Second)})); n != 3 {
		t.Errorf("since: %d lines, want 3", n)
	}
	if got := read("prod", logstore.Query{Grep: "other"}); len(got) != 1 || !strings.Contains(got[0], `"status":500`) {
		t.Errorf("prod: %q", got)
	}
}

func TestRecordNeverBlocks(t *testing.T) {
	l := New(Config{})
	for i := 0; i < bufferEntries+10; i++ { // nobody runs the writer
		l.Record(Entry{Stack: "s", Stage: "dev"})
	}
	if l.Dropped() != 10 {
		t.Fatalf("dropped %d, want 10", l.Dropped())
	}
}
