package telemetry

import (
	"testing"
	"time"
)

func TestHistLog(t *testing.T) {
	var l histLog
	h := func(ds ...time.Duration) *hist {
		out := &hist{}
		for _, d := range ds {
			out.observe(d)
		}
		return out
	}
	base := fineSlot(t0)
	l.add(base+1, h(time.Millisecond, time.Millisecond, time.Second))
	l.add(base+5, h(10*time.Millisecond)) // slots 2-4 had no requests
	l.add(base+3, h(time.Hour))           // out of order: ignored
	l.add(base+fineChunk+2, h(time.Minute))
	tests := []struct {
		slot  int64
		ok    bool
		count uint64
	}{
		{base, false, 0},
		{base + 1, true, 3},
		{base + 3, false, 0},
		{base + 5, true, 1},
		{base + 6, false, 0},
		{base + fineChunk + 2, true, 1},
	}
	for _, tt := range tests {
		var got hist
		if ok := l.mergeInto(tt.slot, &got); ok != tt.ok || got.count != tt.count {
			t.Errorf("slot +%d: ok %v count %d, want %v %d", tt.slot-base, ok, got.count, tt.ok, tt.count)
		}
	}
	var all hist
	for s := base; s < base+fineChunk+3; s++ {
		l.mergeInto(s, &all)
	}
	want := h(time.Millisecond, time.Millisecond, time.Second, 10*time.Millisecond, time.Minute)
	if all.n != want.n {
		t.Errorf("merged buckets differ from observing the same latencies")
	}
	l.dropBefore(base + fineChunk)
	if len(l.chunks) != 1 || l.mergeInto(base+1, &hist{}) {
		t.Errorf("dropBefore kept %d chunks", len(l.chunks))
	}
}
