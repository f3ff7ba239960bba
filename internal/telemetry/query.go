package telemetry

import (
	"math"
	"strconv"
	"time"
)

// Query returns the points of k in [from, to), oldest first. step 0 means
// the native resolution: 10 s for data younger than FineRetention, 5 min
// before. A larger step re-aggregates by the metric's kind: counters sum,
// gauges average, latency quantiles take the largest of the period's
// quantiles of merged histograms: a stage's 10 s histograms are kept
// (in memory) for the fine retention, and a step of whole 5 min periods
// reads the 5 min points, which are made from merged histograms. Where
// no histogram is left (instances, periods before a restart) a step
// takes the largest of its points' quantiles, an upper bound. Periods without data are
// absent for gauges and latency; counters read 0 while the stage (the
// instance, for instance series; the stack, for builds) had any data.
// Unknown metrics answer nothing.
func (s *Store) Query(k Key, from, to time.Time, step time.Duration) []Point {
	mi, ok := Lookup(k.Metric)
	if !ok || !from.Before(to) {
		return nil
	}
	k.Metric = stored(k.Metric)
	now := s.now()
	closed := s.closedSlot.Load() // last closed fine slot
	// The fine tier serves from the 5 min boundary after its horizon. A
	// step of whole 5 min periods reads the 5 min points of every closed
	// period instead: their quantiles come from merged histograms, so
	// they beat the largest of thirty 10 s quantiles.
	horizon := (floorDiv(fineSlot(now.Add(-FineRetention)), finePerCoarse) + 1) * finePerCoarse
	if step >= CoarseStep && step%CoarseStep == 0 {
		horizon = floorDiv(closed+1, finePerCoarse) * finePerCoarse
	}
	fromF := ceilDiv(from.UnixNano(), int64(FineStep))
	toF := ceilDiv(to.UnixNano(), int64(FineStep)) // exclusive
	toF = min(toF, closed+1)

	s.mu.RLock()
	se := s.series[k]
	sp := s.spans[scope{k.Stack, k.Stage, k.Instance}]
	var pts []Point
	// Coarse part: whole periods starting in [from, horizon).
	cFrom := ceilDiv(from.UnixNano(), int64(CoarseStep))
	cTo := min(ceilDiv(min(toF, horizon)*int64(FineStep), int64(CoarseStep)), floorDiv(closed+1, finePerCoarse))
	if cFrom < cTo {
		pts = s.tierPoints(se, sp, mi.Kind, true, cFrom, cTo, pts)
	}
	fFrom := max(fromF, horizon)
	if fFrom < toF {
		pts = s.tierPoints(se, sp, mi.Kind, false, fFrom, toF, pts)
	}
	if step <= FineStep || len(pts) == 0 {
		s.mu.RUnlock()
		return pts
	}
	out := reaggregate(pts, mi.Kind, step)
	if l := s.hists[scope{k.Stack, k.Stage, ""}]; mi.Kind == Latency && k.Instance == "" && l != nil && se != nil {
		s.mergedQuantiles(out, se, l, quantileOf(k.Metric), step, fFrom, toF)
	}
	s.mu.RUnlock()
	return out
}

// mergedQuantiles replaces the value of each step period made of 10 s
// points alone by the quantile of their merged histograms, when every
// one of them still has its histogram.
func (s *Store) mergedQuantiles(out []Point, se *series, l *histLog, q float64, step time.Duration, fFrom, fTo int64) {
	for i := range out {
		lo := ceilDiv(out[i].T.UnixNano(), int64(FineStep))
		hi := min(ceilDiv(out[i].T.Add(step).UnixNano(), int64(FineStep)), fTo)
		if lo < fFrom || lo >= hi {
			continue // (partly) from 5 min points
		}
		var h hist
		whole := true
		se.fine.each(lo, hi, func(slot int64, _ float32) {
			whole = whole && l.mergeInto(slot, &h)
		})
		if whole && h.count > 0 {
			out[i].V = widen(quantize(P99Latency, h.quantile(q)))
		}
	}
}

// tierPoints appends a tier's points in slots [from, to), with a
// counter's zeros inside the span.
func (s *Store) tierPoints(se *series, sp *span, kind Kind, coarse bool, from, to int64, out []Point) []Point {
	stepNS := int64(FineStep)
	if coarse {
		stepNS = int64(CoarseStep)
	}
	at := func(slot int64) time.Time { return time.Unix(0, slot*stepNS).UTC() }
	if kind == Counter && sp != nil {
		// Every slot overlapping the span, 0 unless stored.
		lo, hi := sp.first, sp.last+1 // fine slots
		if coarse {
			lo, hi = floorDiv(lo, finePerCoarse), floorDiv(sp.last, finePerCoarse)+1
		}
		lo, hi = max(lo, from), min(hi, to)
		if lo >= hi {
			return out
		}
		vals := make([]float64, hi-lo)
		if se != nil {
			t := &se.fine
			if coarse {
				t = &se.coarse
			}
			t.each(lo, hi, func(slot int64, v float32) { vals[slot-lo] = widen(v) })
		}
		for i, v := range vals {
			out = append(out, Point{at(lo + int64(i)), v})
		}
		return out
	}
	if se == nil {
		return out
	}
	t := &se.fine
	if coarse {
		t = &se.coarse
	}
	t.each(from, to, func(slot int64, v float32) { out = append(out, Point{at(slot), widen(v)}) })
	return out
}

// reaggregate groups points into periods of step (aligned to the Unix
// epoch), by kind.
func reaggregate(pts []Point, kind Kind, step time.Duration) []Point {
	var out []Point
	var sum, mx float64
	n := 0
	var cur int64
	flush := func() {
		if n == 0 {
			return
		}
		v := sum
		switch kind {
		case Gauge:
			v = sum / float64(n)
		case Latency:
			v = mx
		}
		out = append(out, Point{time.Unix(0, cur*int64(step)).UTC(), v})
	}
	for _, p := range pts {
		b := floorDiv(p.T.UnixNano(), int64(step))
		if n > 0 && b != cur {
			flush()
			sum, mx, n = 0, math.Inf(-1), 0
		}
		if n == 0 {
			mx = math.Inf(-1)
		}
		cur = b
		sum += p.V
		mx = max(mx, p.V)
		n++
	}
	flush()
	return out
}

// widen is the float64 nearest to the shortest decimal of a stored
// float32, so a point stored as 408.23 reads 408.23 (in JSON, alarm
// reasons and the CLI), not 408.2300109863281.
func widen(v float32) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return f
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
