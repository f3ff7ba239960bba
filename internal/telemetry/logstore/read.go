package logstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"time"
)

// Entry is one stored entry as read back.
type Entry struct {
	Key  Key
	Time time.Time
	JSON []byte // the entry: one JSON object, no newline

	pos position // where it ends in its stream
}

// position is a place in a stream: a byte offset in a segment.
type position struct {
	seq int
	off int64
}

// Query selects entries. Keys are merged by time.
type Query struct {
	Keys  []Key
	Since time.Time // entries at or after (zero: no bound)
	Until time.Time // entries before (zero: no bound)
	// Grep keeps entries whose text contains it (plain substring, case
	// sensitive): a runtime entry's line, a build or release entry's
	// message, an access entry's whole JSON object.
	Grep string
	// Tail keeps only the last n entries that match (0: all). Follow
	// applies it to what exists when it starts.
	Tail int
	// Match, if set, keeps only entries it accepts (after Grep).
	Match func(Entry) bool
}

func (q Query) keep(e Entry) bool {
	if !q.Since.IsZero() && e.Time.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !e.Time.Before(q.Until) {
		return false
	}
	if q.Grep != "" && !grep(e, q.Grep) {
		return false
	}
	return q.Match == nil || q.Match(e)
}

// grep matches an entry's text. Raw JSON is checked first (a string
// holding the text, JSON-escaped, is in it), so most misses cost no
// decoding.
func grep(e Entry, text string) bool {
	esc, _ := json.Marshal(text)
	esc = bytes.ReplaceAll(esc[1:len(esc)-1], []byte(`\u003c`), []byte("<"))
	esc = bytes.ReplaceAll(esc, []byte(`\u003e`), []byte(">"))
	esc = bytes.ReplaceAll(esc, []byte(`\u0026`), []byte("&"))
	if !bytes.Contains(e.JSON, esc) {
		return false
	}
	var field struct {
		Line    *string `json:"line"`
		Message *string `json:"message"`
	}
	switch e.Key.Kind {
	case Runtime:
		if json.Unmarshal(e.JSON, &field) == nil && field.Line != nil {
			return strings.Contains(*field.Line, text)
		}
	case Build, Release:
		if json.Unmarshal(e.JSON, &field) == nil && field.Message != nil {
			return strings.Contains(*field.Message, text)
		}
	}
	return true
}

// Read calls fn with q's entries, oldest first, until they are done, fn
// fails or ctx ends. A stream with no entries is not an error.
func (s *Store) Read(ctx context.Context, q Query, fn func(Entry) error) error {
	snaps := make([]snapshot, 0, len(q.Keys))
	for _, k := range q.Keys {
		snap, err := s.snapshot(k, nil)
		if err != nil {
			return err
		}
		snaps = append(snaps, snap)
	}
	return replay(ctx, q, snaps, fn)
}

// snapshot is what a stream holds at one moment: its segments, the last
// one read up to end.
type snapshot struct {
	key  Key
	segs []segment
	end  position
}

// snapshot flushes k's stream and lists its segments; with sb, it also
// subscribes sb, in the same critical section, so sb gets exactly the
// entries after the snapshot's end.
func (s *Store) snapshot(k Key, sb *sub) (snapshot, error) {
	st, err := s.stream(k, false)
	if err != nil {
		return snapshot{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.flush(); err != nil {
		return snapshot{}, err
	}
	segs, err := listSegments(st.dir)
	if err != nil {
		return snapshot{}, err
	}
	snap := snapshot{key: k, segs: segs}
	if n := len(segs); n > 0 {
		snap.end = position{seq: segs[n-1].Seq, off: segs[n-1].Size}
		if st.f != nil && st.seg.Seq == segs[n-1].Seq {
			snap.end.off = st.seg.Size
		}
	}
	if sb != nil {
		sb.lagged = false
		st.subs[sb] = struct{}{}
	}
	return snap, nil
}

// replay reads snapshots (each from its start) merged by time and
// applies q, Tail included.
func replay(ctx context.Context, q Query, snaps []snapshot, fn func(Entry) error) error {
	its := make([]*iterator, 0, len(snaps))
	for _, snap := range snaps {
		its = append(its, newIterator(snap, position{}, q.Since))
	}
	defer func() {
		for _, it := range its {
			it.close()
		}
	}()
	var ring []Entry // the last Tail matches
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var next *iterator
		for _, it := range its {
			if it.peek() && (next == nil || it.head.Time.Before(next.head.Time)) {
				next = it
			}
		}
		if next == nil {
			break
		}
		e := next.take()
		if !q.keep(e) {
			continue
		}
		if q.Tail <= 0 {
			if err := fn(e); err != nil {
				return err
			}
			continue
		}
		if len(ring) == q.Tail {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, e)
	}
	for _, e := range ring {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// iterator reads one stream's snapshot from a position to its end.
type iterator struct {
	snap  snapshot
	from  position
	since time.Time
	i     int // index into snap.segs of the open segment
	f     *os.File
	r     *bufio.Reader
	off   int64 // in the open segment
	limit int64 // -1: to EOF
	head  Entry
	has   bool
	done  bool
}

func newIterator(snap snapshot, from position, since time.Time) *iterator {
	return &iterator{snap: snap, from: from, since: since, i: -1}
}

// peek loads the next entry into head; false at the end.
func (it *iterator) peek() bool {
	for !it.has && !it.done {
		if it.r == nil && !it.nextSegment() {
			it.done = true
			break
		}
		if it.limit >= 0 && it.off >= it.limit {
			it.close()
			continue
		}
		line, err := it.r.ReadBytes('\n')
		if len(line) == 0 || line[len(line)-1] != '\n' {
			// EOF, or a partial last line (a crash mid-write): the
			// segment ends here.
			_ = err
			it.close()
			continue
		}
		it.off += int64(len(line))
		line = line[:len(line)-1]
		t, ok := entryTime(line)
		if !ok {
			continue // not an entry: skipped, not fatal
		}
		it.head = Entry{Key: it.snap.key, Time: t, JSON: line, pos: position{seq: it.snap.segs[it.i].Seq, off: it.off}}
		it.has = true
	}
	return it.has
}

func (it *iterator) take() Entry {
	it.has = false
	return it.head
}

// nextSegment opens the next segment worth reading: at or after the
// starting position, and not ended before since.
func (it *iterator) nextSegment() bool {
	for it.i+1 < len(it.snap.segs) {
		it.i++
		seg := it.snap.segs[it.i]
		if seg.Seq < it.from.seq || seg.Seq > it.snap.end.seq {
			continue
		}
		if !it.since.IsZero() && it.i+1 < len(it.snap.segs) && endOf(it.snap.segs, it.i).Before(it.since) {
			continue // everything in it was written before since
		}
		f, err := os.Open(seg.Path)
		if err != nil {
			continue // deleted by retention meanwhile
		}
		it.off, it.limit = 0, -1
		if seg.Seq == it.snap.end.seq {
			it.limit = it.snap.end.off
		}
		if seg.Seq == it.from.seq && it.from.off > 0 {
			if _, err := f.Seek(it.from.off, io.SeekStart); err != nil {
				f.Close()
				continue
			}
			it.off = it.from.off
		}
		it.f, it.r = f, bufio.NewReaderSize(f, 64<<10)
		return true
	}
	return false
}

func (it *iterator) close() {
	if it.f != nil {
		it.f.Close()
	}
	it.f, it.r = nil, nil
}

// entryTime reads an entry's "time", quickly when it is the first field
// (as the store writes them).
func entryTime(line []byte) (time.Time, bool) {
	const prefix = `{"time":"`
	if bytes.HasPrefix(line, []byte(prefix)) {
		rest := line[len(prefix):]
		if end := bytes.IndexByte(rest, '"'); end > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:end])); err == nil {
				return t, true
			}
		}
	}
	var v struct {
		Time *time.Time `json:"time"`
	}
	if json.Unmarshal(line, &v) != nil || v.Time == nil {
		return time.Time{}, false
	}
	return *v.Time, true
}

// errStop ends a read early without an error.
var errStop = errors.New("stop")
