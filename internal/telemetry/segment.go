package telemetry

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Segment files hold closed points, appended as they close: one file per
// hour of 10 s points (fine-<unix hour>.seg) and one per day of 5 min
// points (coarse-<unix day>.seg). A file is a sequence of records, each
// [type byte][uvarint payload length][payload][crc32 of payload]:
//
//	'D' defines a series for this file: uvarint ref, then stack, stage,
//	    instance and metric, each a uvarint length and bytes;
//	'B' is a batch of points at one slot: varint slot, uvarint count,
//	    then count × (uvarint ref, float32 little-endian).
//
// Loading stops at a file's first torn or corrupt record and truncates
// it there, so a crash loses at most the window being written.
type segments struct {
	dir string
	log *slog.Logger
	w   [2]*segWriter // fine, coarse
}

type segWriter struct {
	name string
	f    *os.File
	bw   *bufio.Writer
	refs map[Key]uint64
}

const (
	recDefine = 'D'
	recBatch  = 'B'
)

func openSegments(dir string, log *slog.Logger) (*segments, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create metrics dir %s: %w", dir, err)
	}
	return &segments{dir: dir, log: log}, nil
}

// fileFor names the file a slot's points go to.
func fileFor(coarse bool, slot int64) string {
	if coarse {
		return "coarse-" + strconv.FormatInt(floorDiv(slot*int64(CoarseStep), int64(24*time.Hour))*86400, 10) + ".seg"
	}
	return "fine-" + strconv.FormatInt(floorDiv(slot*int64(FineStep), int64(time.Hour))*3600, 10) + ".seg"
}

// fileSpan parses a segment file name: its tier and the time it starts.
func fileSpan(name string) (coarse bool, start time.Time, length time.Duration, ok bool) {
	base, found := strings.CutSuffix(name, ".seg")
	if !found {
		return
	}
	kind, sec, found := strings.Cut(base, "-")
	n, err := strconv.ParseInt(sec, 10, 64)
	if !found || err != nil {
		return
	}
	switch kind {
	case "fine":
		return false, time.Unix(n, 0), time.Hour, true
	case "coarse":
		return true, time.Unix(n, 0), 24 * time.Hour, true
	}
	return
}

func (g *segments) write(coarse bool, slot int64, pts []point) error {
	if len(pts) == 0 {
		return nil
	}
	i := 0
	if coarse {
		i = 1
	}
	name := fileFor(coarse, slot)
	w := g.w[i]
	if w == nil || w.name != name {
		if w != nil {
			w.close()
		}
		f, err := os.OpenFile(filepath.Join(g.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			g.w[i] = nil
			return fmt.Errorf("open metrics segment: %w", err)
		}
		// A file appended to after a restart defines its series again.
		w = &segWriter{name: name, f: f, bw: bufio.NewWriterSize(f, 64<<10), refs: map[Key]uint64{}}
		g.w[i] = w
	}
	return w.batch(slot, pts)
}

func (w *segWriter) batch(slot int64, pts []point) error {
	var payload []byte
	body := make([]byte, 0, 16+len(pts)*7)
	body = binary.AppendVarint(body, slot)
	body = binary.AppendUvarint(body, uint64(len(pts)))
	for _, p := range pts {
		ref, ok := w.refs[p.key]
		if !ok {
			ref = uint64(len(w.refs) + 1)
			w.refs[p.key] = ref
			payload = binary.AppendUvarint(payload[:0], ref)
			for _, s := range []string{p.key.Stack, p.key.Stage, p.key.Instance, p.key.Metric} {
				payload = binary.AppendUvarint(payload, uint64(len(s)))
				payload = append(payload, s...)
			}
			w.record(recDefine, payload)
		}
		body = binary.AppendUvarint(body, ref)
		body = binary.LittleEndian.AppendUint32(body, math.Float32bits(p.v))
	}
	w.record(recBatch, body)
	return w.bw.Flush() // one write per closed window
}

func (w *segWriter) record(typ byte, payload []byte) {
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := binary.PutUvarint(hdr[1:], uint64(len(payload)))
	w.bw.Write(hdr[:1+n])
	w.bw.Write(payload)
	w.bw.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(payload)))
}

func (w *segWriter) close() error {
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (g *segments) close() error {
	var err error
	for i, w := range g.w {
		if w != nil {
			err = errors.Join(err, w.close())
			g.w[i] = nil
		}
	}
	return err
}

// prune deletes files wholly past retention.
func (g *segments) prune(now time.Time) {
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		coarse, start, length, ok := fileSpan(e.Name())
		if !ok {
			continue
		}
		keep := FineRetention
		if coarse {
			keep = CoarseRetention
		}
		if start.Add(length).Before(now.Add(-keep)) {
			if err := os.Remove(filepath.Join(g.dir, e.Name())); err != nil {
				g.log.Warn("remove old metrics segment", "file", e.Name(), "err", err)
			}
		}
	}
}

// sink receives one segment file's records as they are read.
type sink interface {
	define(ref uint64, k Key)
	// point stores a point of a defined series; false for an undefined ref.
	point(ref uint64, slot int64, v float32) bool
}

// load replays every file within retention, oldest first, into the
// sinks newSink makes (one a file), deleting files past it. It returns
// the number of points read.
func (g *segments) load(now time.Time, newSink func(coarse bool) sink) (int, error) {
	g.prune(now)
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return 0, fmt.Errorf("read metrics dir: %w", err)
	}
	type file struct {
		name   string
		coarse bool
		start  time.Time
	}
	var files []file
	for _, e := range ents {
		if coarse, start, _, ok := fileSpan(e.Name()); ok {
			files = append(files, file{e.Name(), coarse, start})
		}
	}
	// Fine files first: coarse points replayed after them extend spans
	// backwards only.
	sort.Slice(files, func(i, j int) bool {
		if files[i].coarse != files[j].coarse {
			return !files[i].coarse
		}
		return files[i].start.Before(files[j].start)
	})
	total := 0
	for _, f := range files {
		n, err := g.loadFile(filepath.Join(g.dir, f.name), newSink(f.coarse))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (g *segments) loadFile(path string, sk sink) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open metrics segment: %w", err)
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 64<<10)
	var good int64
	n := 0
	for {
		typ, payload, size, err := readRecord(r)
		if err == io.EOF {
			return n, nil
		}
		if err == nil {
			err = applyRecord(typ, payload, sk, &n)
		}
		if err != nil {
			g.log.Warn("metrics segment ends in a torn or corrupt record; truncating it there", "file", filepath.Base(path), "offset", good, "err", err)
			if terr := os.Truncate(path, good); terr != nil {
				return n, fmt.Errorf("truncate metrics segment: %w", terr)
			}
			return n, nil
		}
		good += size
	}
}

func readRecord(r *bufio.Reader) (typ byte, payload []byte, size int64, err error) {
	typ, err = r.ReadByte()
	if err != nil {
		return 0, nil, 0, err // io.EOF at a record boundary: the end
	}
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, 0, unexpected(err)
	}
	if l > 64<<20 {
		return 0, nil, 0, fmt.Errorf("record of %d bytes", l)
	}
	buf := make([]byte, l+4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, 0, unexpected(err)
	}
	payload = buf[:l]
	if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(buf[l:]) {
		return 0, nil, 0, errors.New("checksum mismatch")
	}
	return typ, payload, int64(1 + uvarintLen(l) + len(buf)), nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

func applyRecord(typ byte, p []byte, sk sink, n *int) error {
	bad := errors.New("malformed record")
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, false
		}
		p = p[k:]
		return v, true
	}
	switch typ {
	case recDefine:
		ref, ok := next()
		if !ok {
			return bad
		}
		var parts [4]string
		for i := range parts {
			l, ok := next()
			if !ok || uint64(len(p)) < l {
				return bad
			}
			parts[i], p = string(p[:l]), p[l:]
		}
		sk.define(ref, Key{parts[0], parts[1], parts[2], parts[3]})
	case recBatch:
		slot, k := binary.Varint(p)
		if k <= 0 {
			return bad
		}
		p = p[k:]
		cnt, ok := next()
		if !ok {
			return bad
		}
		for range cnt {
			ref, ok := next()
			if !ok || len(p) < 4 {
				return bad
			}
			v := math.Float32frombits(binary.LittleEndian.Uint32(p))
			p = p[4:]
			if !sk.point(ref, slot, v) {
				return fmt.Errorf("undefined series ref %d", ref)
			}
			*n++
		}
	default:
		return fmt.Errorf("unknown record type %q", typ)
	}
	return nil
}
