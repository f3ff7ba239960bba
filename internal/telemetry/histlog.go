package telemetry

import "encoding/binary"

// histLog keeps a stage's 10 s windows' latency histograms for the fine
// retention, sparsely encoded, so a query's step can merge them and
// compute its quantiles exactly (to the bucket) rather than take the
// largest 10 s quantile. Memory only: after a restart, steps over the
// windows before it fall back to the largest quantile.
type histLog struct {
	chunks []*histChunk // in time order
}

// histChunk holds an hour of windows: window i's encoding is
// data[off[i]:off[i+1]] (empty: no requests) for i below next.
type histChunk struct {
	start int64
	next  int
	off   [fineChunk + 1]uint32
	data  []byte
}

// add appends slot's histogram. Slots come in increasing order (windows
// close in order); an earlier one is ignored.
func (l *histLog) add(slot int64, h *hist) {
	start := slot - mod(slot, fineChunk)
	var c *histChunk
	if n := len(l.chunks); n > 0 && l.chunks[n-1].start == start {
		c = l.chunks[n-1]
	} else if n == 0 || l.chunks[n-1].start < start {
		c = &histChunk{start: start}
		l.chunks = append(l.chunks, c)
	} else {
		return
	}
	i := int(slot - start)
	if i < c.next-1 || i == c.next-1 && c.off[i+1] > c.off[i] {
		return
	}
	for j := c.next; j <= i; j++ {
		c.off[j] = uint32(len(c.data))
	}
	prev := 0
	for b, n := range h.n {
		if n > 0 {
			c.data = binary.AppendUvarint(c.data, uint64(b-prev))
			c.data = binary.AppendUvarint(c.data, uint64(n))
			prev = b
		}
	}
	c.off[i+1] = uint32(len(c.data))
	c.next = i + 1
}

// mergeInto adds slot's histogram to h; false when there is none.
func (l *histLog) mergeInto(slot int64, h *hist) bool {
	start := slot - mod(slot, fineChunk)
	for _, c := range l.chunks {
		if c.start != start {
			continue
		}
		i := int(slot - start)
		if i >= c.next || c.off[i+1] == c.off[i] {
			return false
		}
		p := c.data[c.off[i]:c.off[i+1]]
		b := 0
		for len(p) > 0 {
			d, k := binary.Uvarint(p)
			if k <= 0 {
				return false
			}
			p = p[k:]
			n, k := binary.Uvarint(p)
			if k <= 0 {
				return false
			}
			p = p[k:]
			b += int(d)
			if b < histBuckets {
				h.n[b] += uint32(n)
				h.count += n
			}
		}
		return true
	}
	return false
}

// dropBefore forgets chunks that end at or before slot.
func (l *histLog) dropBefore(slot int64) {
	n := 0
	for n < len(l.chunks) && l.chunks[n].start+fineChunk <= slot {
		n++
	}
	if n > 0 {
		l.chunks = append(l.chunks[:0], l.chunks[n:]...)
	}
}

func (l *histLog) bytes() int {
	b := 24
	for _, c := range l.chunks {
		b += 4*(fineChunk+1) + 32 + cap(c.data)
	}
	return b
}

// quantileOf is a latency metric's quantile.
func quantileOf(metric string) float64 {
	switch metric {
	case P50Latency:
		return .5
	case P90Latency:
		return .9
	}
	return .99
}
