package telemetry

import (
	"math"
	"testing"
)

func TestEncodeRoundTrip(t *testing.T) {
	tests := map[string][]float32{
		"absent": fill(360, nan32),
		"zeros":  fill(360, 0),
		"steady": fill(288, 3),
		"noisy": func() []float32 {
			v := make([]float32, 360)
			for i := range v {
				v[i] = float32(math.Sin(float64(i)) * 100)
			}
			return v
		}(),
		"sparse":   func() []float32 { v := fill(360, nan32); v[7], v[200] = 5, 0.25; return v }(),
		"negative": {-1, -1, 2, float32(math.Inf(1))},
	}
	for name, vals := range tests {
		t.Run(name, func(t *testing.T) {
			got := decode(encode(vals), len(vals))
			for i := range vals {
				if math.Float32bits(got[i]) != math.Float32bits(vals[i]) {
					t.Fatalf("slot %d: got %v, want %v", i, got[i], vals[i])
				}
			}
		})
	}
	if b := encode(fill(360, nan32)); len(b) > 4 {
		t.Errorf("an absent chunk encodes to %d bytes, want a few", len(b))
	}
}

func TestTierOutOfOrder(t *testing.T) {
	var tr tier
	tr.set(1000, 10, 1)
	tr.set(1015, 10, 2) // a new chunk seals the first
	tr.set(1003, 10, 3) // a late write into the sealed one
	tr.set(985, 10, 4)  // an older chunk than any
	var got []float32
	tr.each(0, 2000, func(_ int64, v float32) { got = append(got, v) })
	want := []float32{4, 1, 3, 2}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	tr.dropBefore(1010)
	if len(tr.chunks) != 1 || tr.chunks[0].start != 1010 {
		t.Errorf("after dropBefore(1010): %d chunks", len(tr.chunks))
	}
}
