package telemetry

import (
	"math"
	"time"
)

// Latency histograms have fixed log-spaced buckets, four per doubling,
// from 0.1 ms to about 90 s, plus one for anything slower: every histogram
// has the same bounds, so merging is adding counts, and a quantile read
// from one is within a bucket's width (19%) of the true value.
const (
	histBase      = 100 * time.Microsecond
	histPerOctave = 4
	histBounds    = 80
	histBuckets   = histBounds + 1
)

// bounds[i] is bucket i's upper bound in milliseconds.
var bounds = func() [histBounds]float64 {
	var b [histBounds]float64
	base := float64(histBase) / float64(time.Millisecond)
	for i := range b {
		b[i] = base * math.Exp2(float64(i)/histPerOctave)
	}
	return b
}()

// hist counts latencies by bucket.
type hist struct {
	n      [histBuckets]uint32
	count  uint64
	sumSec float64
}

// bucketOf is the bucket a latency falls in: the first whose bound is at
// least d.
func bucketOf(d time.Duration) int {
	if d <= histBase {
		return 0
	}
	i := int(math.Ceil(histPerOctave * math.Log2(float64(d)/float64(histBase))))
	// Guard the float edge: d exactly on a bound may land one above.
	if i > 0 && i <= histBounds && float64(d)/float64(time.Millisecond) <= bounds[i-1] {
		i--
	}
	return min(i, histBounds)
}

func (h *hist) observe(d time.Duration) {
	h.n[bucketOf(d)]++
	h.count++
	h.sumSec += d.Seconds()
}

func (h *hist) merge(o *hist) {
	for i, c := range o.n {
		h.n[i] += c
	}
	h.count += o.count
	h.sumSec += o.sumSec
}

func (h *hist) reset() { *h = hist{} }

// quantile returns the q-quantile (0..1) in milliseconds, interpolated
// linearly inside its bucket; NaN for an empty histogram. The overflow
// bucket answers its lower bound.
func (h *hist) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	var cum float64
	for i, c := range h.n {
		if c == 0 {
			continue
		}
		next := cum + float64(c)
		if next >= rank {
			if i == histBounds {
				return bounds[histBounds-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-cum)/float64(c)
		}
		cum = next
	}
	return bounds[histBounds-1]
}
