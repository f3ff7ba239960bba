package logstore

import (
	"testing"
	"time"
)

// BenchmarkAppend is the write path an access log entry takes.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), SegmentBytes: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	l := Line{Time: now, Instance: "slipway-shop-dev-r3-a1b2c3", Container: "0123456789ab", Stream: Stdout, Text: `{"level":"info","msg":"GET /api/items 200 1.2ms"}`}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(web, now, l); err != nil {
			b.Fatal(err)
		}
	}
}
