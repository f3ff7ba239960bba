package telemetry

import (
	"encoding/binary"
	"math"
	"sort"
)

// A tier keeps one resolution of a series as chunks of fixed slot counts:
// times are implicit (slot i of a chunk starting at slot s is s+i), values
// float32, NaN for "no value". The chunk being written is plain; older
// chunks are sealed into a compact encoding (see encode), since most
// series repeat values (absent, 0, a steady instance count) run after run.
type tier struct {
	chunks []*chunk // ordered by start
}

type chunk struct {
	start  int64     // first slot
	vals   []float32 // while open
	sealed []byte    // once sealed (vals is nil)
	n      int       // slots
}

var nan32 = float32(math.NaN())

func newChunk(start int64, n int) *chunk {
	v := make([]float32, n)
	for i := range v {
		v[i] = nan32
	}
	return &chunk{start: start, vals: v, n: n}
}

func (c *chunk) values() []float32 {
	if c.vals != nil {
		return c.vals
	}
	return decode(c.sealed, c.n)
}

func (c *chunk) seal() {
	if c.vals == nil {
		return
	}
	c.sealed = encode(c.vals)
	c.vals = nil
}

func (c *chunk) bytes() int {
	return 48 + 4*len(c.vals) + cap(c.sealed)
}

// set stores v at slot (per slots a chunk). Writing into a sealed chunk
// (replay, a late point) unseals it until the next seal.
func (t *tier) set(slot int64, per int, v float32) {
	start := slot - mod(slot, int64(per))
	i := len(t.chunks) - 1 // the newest chunk, nearly always
	if i < 0 || t.chunks[i].start != start {
		i = sort.Search(len(t.chunks), func(i int) bool { return t.chunks[i].start >= start })
	}
	var c *chunk
	switch {
	case i < len(t.chunks) && t.chunks[i].start == start:
		c = t.chunks[i]
	default:
		c = newChunk(start, per)
		t.chunks = append(t.chunks, nil)
		copy(t.chunks[i+1:], t.chunks[i:])
		t.chunks[i] = c
		if i == len(t.chunks)-1 && i > 0 {
			t.chunks[i-1].seal() // complete: time moved on
		}
	}
	if c.vals == nil {
		c.vals = decode(c.sealed, c.n)
		c.sealed = nil
	}
	c.vals[slot-start] = v
	if c != t.chunks[len(t.chunks)-1] {
		c.seal() // a late write into an older chunk
	}
}

// each calls fn with every value in slots [from, to), in order.
func (t *tier) each(from, to int64, fn func(slot int64, v float32)) {
	for _, c := range t.chunks {
		if c.start+int64(c.n) <= from || c.start >= to {
			continue
		}
		vals := c.values()
		for i, v := range vals {
			s := c.start + int64(i)
			if s >= from && s < to && !isNaN32(v) {
				fn(s, v)
			}
		}
	}
}

// dropBefore removes chunks that end at or before slot.
func (t *tier) dropBefore(slot int64) {
	n := 0
	for n < len(t.chunks) && t.chunks[n].start+int64(t.chunks[n].n) <= slot {
		n++
	}
	if n > 0 {
		t.chunks = append(t.chunks[:0], t.chunks[n:]...)
	}
}

func (t *tier) bytes() int {
	b := 24 + 8*cap(t.chunks)
	for _, c := range t.chunks {
		b += c.bytes()
	}
	return b
}

func isNaN32(v float32) bool { return v != v }

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Sealed chunk encodings (the first byte).
const (
	encXOR byte = iota // any float32s
	encInt             // values that are integers times 10^-scale
)

// encode packs a chunk's values. Values that are whole multiples of a
// small power of ten (counts; gauges and latencies, which quantize
// rounds) are stored as varint deltas of those integers, with runs of
// absent or repeated values as one token: a noisy gauge then takes about
// two bytes a point, a steady one almost none. Other values fall back
// to XOR with the previous value's bits.
func encode(vals []float32) []byte {
	if scale, ok := intScale(vals); ok {
		return encodeInt(vals, scale)
	}
	return encodeXOR(vals)
}

func decode(b []byte, n int) []float32 {
	if len(b) > 0 && b[0] == encInt {
		return decodeInt(b[1:], n)
	}
	if len(b) > 0 {
		b = b[1:]
	}
	return decodeXOR(b, n)
}

var pow10 = [...]float64{1, 10, 100, 1000, 1e4, 1e5, 1e6}

// intScale finds the smallest power of ten that makes every value an
// integer (below 2^40).
func intScale(vals []float32) (int, bool) {
	for e, p := range pow10 {
		ok := true
		for _, v := range vals {
			if isNaN32(v) {
				continue
			}
			x := float64(v) * p
			r := math.Round(x)
			if math.Abs(x) > 1<<40 || math.Abs(x-r) > 1e-3 || float32(r/p) != v {
				ok = false
				break
			}
		}
		if ok {
			return e, true
		}
	}
	return 0, false
}

// Int tokens: low two bits tag a token. 0: the next value, as the zigzag
// delta from the previous one (0 before the first) in the other bits;
// 1: a run of absent values, its length in the other bits; 2: a run of
// the previous value repeated.
func encodeInt(vals []float32, scale int) []byte {
	out := make([]byte, 0, len(vals))
	out = append(out, encInt, byte(scale))
	p := pow10[scale]
	var prev int64
	for i := 0; i < len(vals); {
		v := vals[i]
		run := 1
		if isNaN32(v) {
			for i+run < len(vals) && isNaN32(vals[i+run]) {
				run++
			}
			out = binary.AppendUvarint(out, uint64(run)<<2|1)
			i += run
			continue
		}
		x := int64(math.Round(float64(v) * p))
		if i > 0 && x == prev && !isNaN32(vals[i-1]) {
			for i+run < len(vals) && !isNaN32(vals[i+run]) && int64(math.Round(float64(vals[i+run])*p)) == x {
				run++
			}
			out = binary.AppendUvarint(out, uint64(run)<<2|2)
			i += run
			continue
		}
		d := x - prev
		out = binary.AppendUvarint(out, (uint64(d<<1)^uint64(d>>63))<<2)
		prev = x
		i++
	}
	return append([]byte(nil), out...)
}

func decodeInt(b []byte, n int) []float32 {
	out := make([]float32, 0, n)
	if len(b) == 0 || int(b[0]) >= len(pow10) {
		return fill(n, nan32)
	}
	p := pow10[b[0]]
	b = b[1:]
	var prev int64
	for len(b) > 0 && len(out) < n {
		t, k := binary.Uvarint(b)
		if k <= 0 {
			break
		}
		b = b[k:]
		switch t & 3 {
		case 0:
			u := t >> 2
			prev += int64(u>>1) ^ -int64(u&1)
			out = append(out, float32(float64(prev)/p))
		case 1:
			for j := uint64(0); j < t>>2 && len(out) < n; j++ {
				out = append(out, nan32)
			}
		default:
			for j := uint64(0); j < t>>2 && len(out) < n; j++ {
				out = append(out, float32(float64(prev)/p))
			}
		}
	}
	for len(out) < n {
		out = append(out, nan32)
	}
	return out
}

// encodeXOR stores each value's bits XOR the previous value's (NaN
// before the first) as a uvarint; a 0 (the same value again) is followed
// by the uvarint length of the run minus one.
func encodeXOR(vals []float32) []byte {
	out := make([]byte, 0, len(vals))
	out = append(out, encXOR)
	prev := math.Float32bits(nan32)
	for i := 0; i < len(vals); {
		b := math.Float32bits(vals[i])
		if x := b ^ prev; x != 0 {
			out = binary.AppendUvarint(out, uint64(x))
			prev = b
			i++
			continue
		}
		run := 1
		for i+run < len(vals) && math.Float32bits(vals[i+run]) == prev {
			run++
		}
		out = append(out, 0)
		out = binary.AppendUvarint(out, uint64(run-1))
		i += run
	}
	return append([]byte(nil), out...) // exact size
}

func decodeXOR(b []byte, n int) []float32 {
	out := make([]float32, 0, n)
	prev := math.Float32bits(nan32)
	for len(b) > 0 && len(out) < n {
		x, k := binary.Uvarint(b)
		if k <= 0 {
			break
		}
		b = b[k:]
		if x != 0 {
			prev ^= uint32(x)
			out = append(out, math.Float32frombits(prev))
			continue
		}
		run, k := binary.Uvarint(b)
		if k <= 0 {
			break
		}
		b = b[k:]
		for j := uint64(0); j <= run && len(out) < n; j++ {
			out = append(out, math.Float32frombits(prev))
		}
	}
	for len(out) < n {
		out = append(out, nan32)
	}
	return out
}

// quantize rounds a point's value to what the metric needs (a hundredth
// of a percent or ms, a tenth of a MB), so sealed chunks store small
// integers; counts are whole already, GB-seconds keep a millionth.
func quantize(metric string, v float64) float32 {
	var step float64
	switch metric {
	case CPUPercent, P50Latency, P90Latency, P99Latency:
		step = 100
	case MemoryMB:
		step = 10
	case Concurrency:
		step = 1000
	case GBSeconds:
		step = 1e6
	default:
		return float32(v)
	}
	return float32(math.Round(v*step) / step)
}

func fill(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}
