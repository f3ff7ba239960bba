package accesslog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteRotateRead(t *testing.T) {
	dir := t.TempDir()
	l := New(Config{Dir: dir, SegmentBytes: 2000, Segments: 3})
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

	// Rotation kept at most 3 files of about 2000 bytes.
	files, _ := filepath.Glob(filepath.Join(dir, "s", "dev", "access*.ndjson"))
	if len(files) != 3 {
		t.Fatalf("files %v, want 3 (rotation keeps 3)", files)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 2000 {
			t.Errorf("%s is %d bytes, over the 2000 segment size", f, st.Size())
		}
	}
	var out strings.Builder
	if err := l.Read("s", "dev", Query{Tail: 5}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[4], `"request_id":"r099"`) || !strings.Contains(lines[0], `"request_id":"r095"`) {
		t.Fatalf("tail 5:\n%s", out.String())
	}
	var e Entry
	if err := json.Unmarshal([]byte(lines[4]), &e); err != nil || e.APIKey != "mobile" || e.ClientIP != "10.0.0.1" || e.Stage != "dev" {
		t.Fatalf("entry %+v %v", e, err)
	}
	out.Reset()
	l.Read("s", "dev", Query{Since: t0.Add(97 * time.Second)}, &out)
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("since: %d lines, want 3:\n%s", n, out.String())
	}
	out.Reset()
	l.Read("s", "prod", Query{Grep: "other"}, &out)
	if !strings.Contains(out.String(), `"status":500`) {
		t.Errorf("prod: %q", out.String())
	}
	l.Remove("s")
	if _, err := os.Stat(filepath.Join(dir, "s")); !os.IsNotExist(err) {
		t.Errorf("remove left %v", err)
	}
}

func TestRecordNeverBlocks(t *testing.T) {
	l := New(Config{Dir: t.TempDir()})
	for i := 0; i < bufferEntries+10; i++ { // nobody runs the writer
		l.Record(Entry{Stack: "s", Stage: "dev"})
	}
	if l.Dropped() != 10 {
		t.Fatalf("dropped %d, want 10", l.Dropped())
	}
}
