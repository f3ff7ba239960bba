package telemetry

import (
	"math"
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{histBase, 0},
		{histBase + 1, 1},
		{2 * histBase, 4}, // exactly a bound: that bucket
		{2*histBase + time.Nanosecond, 5},
		{time.Hour, histBounds}, // overflow
	}
	for _, tt := range tests {
		if got := bucketOf(tt.d); got != tt.want {
			t.Errorf("bucketOf(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
	for i := 1; i < histBounds; i++ {
		d := time.Duration(bounds[i] * float64(time.Millisecond))
		if b := bucketOf(d); b != i && b != i+1 && b != i-1 {
			t.Errorf("bound %d (%s) lands in bucket %d", i, d, b)
		}
	}
}

func TestQuantile(t *testing.T) {
	uniform := func(n int, lo, hi time.Duration) *hist {
		h := &hist{}
		for i := range n {
			h.observe(lo + time.Duration(float64(hi-lo)*float64(i)/float64(n-1)))
		}
		return h
	}
	tests := []struct {
		name string
		h    *hist
		q    float64
		want float64 // ms
	}{
		{"median of 1..100 ms", uniform(1000, time.Millisecond, 100*time.Millisecond), .5, 50.5},
		{"p99 of 1..100 ms", uniform(1000, time.Millisecond, 100*time.Millisecond), .99, 99},
		{"p50 of a constant", uniform(10, 20*time.Millisecond, 20*time.Millisecond), .5, 20},
		{"p99 of a constant", uniform(10, 3*time.Second, 3*time.Second), .99, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.quantile(tt.q)
			// A bucket is 19% wide: the estimate is within that.
			if math.Abs(got-tt.want)/tt.want > 0.19 {
				t.Errorf("quantile(%g) = %.2f ms, want %.2f ms ±19%%", tt.q, got, tt.want)
			}
		})
	}
	if q := (&hist{}).quantile(.5); !math.IsNaN(q) {
		t.Errorf("empty histogram's quantile = %v, want NaN", q)
	}
}

func TestHistMerge(t *testing.T) {
	// Merged histograms answer the quantile of all the observations,
	// not an average of the parts' quantiles.
	fast, slow := &hist{}, &hist{}
	for range 90 {
		fast.observe(10 * time.Millisecond)
	}
	for range 10 {
		slow.observe(time.Second)
	}
	fast.merge(slow)
	if fast.count != 100 {
		t.Fatalf("count = %d, want 100", fast.count)
	}
	if p50 := fast.quantile(.5); p50 < 8 || p50 > 12 {
		t.Errorf("p50 = %.1f ms, want about 10", p50)
	}
	if p99 := fast.quantile(.99); p99 < 800 || p99 > 1200 {
		t.Errorf("p99 = %.1f ms, want about 1000", p99)
	}
}
