package logstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultMaxAge        = 90 * 24 * time.Hour // as CloudWatch Logs in TinyStacks
	DefaultMaxBytes      = 256 << 20           // per stream (stage and kind)
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultSweepInterval = 10 * time.Minute
	maxSegmentBytes      = 16 << 20
	minSegmentBytes      = 512
	idleClose            = 2 * time.Minute // an idle stream's file is closed
	writeBuffer          = 32 << 10
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("log store is closed")

// Config configures a Store.
type Config struct {
	Dir      string        // <data-dir>/logs
	MaxAge   time.Duration // retention by age; default 90 days
	MaxBytes int64         // retention by size, per stream; default 256 MiB
	// SegmentBytes is the size a segment rotates at; default MaxBytes/8,
	// between 512 bytes and 16 MiB, so the cap holds several segments.
	SegmentBytes  int64
	FlushInterval time.Duration    // default 500ms
	SweepInterval time.Duration    // periodic retention; default 10m
	Now           func() time.Time // the clock (tests inject one); default time.Now
	Logger        *slog.Logger
}

// Store is the log store. It is safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	streams map[Key]*stream
	closed  bool
}

// stream is one open (or idle) stream: its live segment and followers.
type stream struct {
	key Key
	dir string

	mu        sync.Mutex
	f         *os.File // nil while closed (idle, or not opened yet)
	w         *bufio.Writer
	seg       segment // the live segment while f is open
	dirty     bool
	lastWrite time.Time
	subs      map[*sub]struct{}
}

// Open makes a Store over cfg.Dir. Run does its periodic work; Close
// flushes it.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("log store: no directory")
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxAge < 0 || cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("log store: retention must be positive, got %s and %d bytes", cfg.MaxAge, cfg.MaxBytes)
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = min(max(cfg.MaxBytes/8, minSegmentBytes), maxSegmentBytes, cfg.MaxBytes)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	return &Store{cfg: cfg, log: cfg.Logger.With("component", "logstore"), streams: map[Key]*stream{}}, nil
}

// Retention is the store's retention.
func (s *Store) Retention() Retention {
	return Retention{MaxAge: s.cfg.MaxAge, MaxBytes: s.cfg.MaxBytes}
}

// Run flushes every FlushInterval and applies retention to every stream
// every SweepInterval (and once at start), until ctx ends. It does not
// close the store: Close does, once the writers have stopped.
func (s *Store) Run(ctx context.Context) {
	flush := time.NewTicker(s.cfg.FlushInterval)
	defer flush.Stop()
	sweep := time.NewTicker(s.cfg.SweepInterval)
	defer sweep.Stop()
	s.Sweep()
	for {
		select {
		case <-ctx.Done():
			s.flushAll(false)
			return
		case <-flush.C:
			s.flushAll(true)
		case <-sweep.C:
			s.Sweep()
		}
	}
}

// Close flushes and closes every file; Append fails after it.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var first error
	for _, st := range s.all() {
		st.mu.Lock()
		if err := st.closeFile(); err != nil && first == nil {
			first = err
		}
		st.mu.Unlock()
	}
	return first
}

func (s *Store) all() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	return out
}

// stream returns k's stream, made on first use. Only writers are
// refused once the store is closed: reads still work.
func (s *Store) stream(k Key, write bool) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if write && s.closed {
		return nil, ErrClosed
	}
	st := s.streams[k]
	if st == nil {
		// Only valid keys get a stream: a key found is valid, and the
		// check is made once per key, not per entry.
		if err := k.validate(); err != nil {
			return nil, err
		}
		st = &stream{key: k, dir: k.dir(s.cfg.Dir), subs: map[*sub]struct{}{}}
		s.streams[k] = st
	}
	return st, nil
}

// Append adds an entry to k's stream. v must encode to a JSON object
// whose first field is "time" (t, in RFC 3339): every entry type of this
// store does. The write is buffered: it reaches the file within
// FlushInterval, and readers flush before reading.
func (s *Store) Append(k Key, t time.Time, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" stays "<", so grep finds it
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode log entry: %w", err)
	}
	return s.appendLine(k, t, buf.Bytes())
}

// AppendLine appends an entry its writer has encoded itself: line is one
// JSON object, as Append would encode it, followed by a newline, and
// starting with its "time" member. The store keeps no reference to it.
// For writers of an entry per request or per line (the access log, the
// collector), where the generic encoder's cost shows.
func (s *Store) AppendLine(k Key, t time.Time, line []byte) error {
	if len(line) < 3 || line[0] != '{' || line[len(line)-1] != '\n' {
		return fmt.Errorf("log entry for %s is not one JSON object ending in a newline", k)
	}
	return s.appendLine(k, t, line)
}

func (s *Store) appendLine(k Key, t time.Time, line []byte) error {
	st, err := s.stream(k, true)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.cfg.Now()
	if err := s.ensureOpen(st, now, int64(len(line))); err != nil {
		return err
	}
	if _, err := st.w.Write(line); err != nil {
		return fmt.Errorf("write log %s: %w", k, err)
	}
	st.seg.Size += int64(len(line))
	st.dirty, st.lastWrite = true, now
	if len(st.subs) > 0 {
		e := Entry{Key: k, Time: t, JSON: bytes.Clone(line[:len(line)-1]), pos: position{seq: st.seg.Seq, off: st.seg.Size}}
		for sb := range st.subs {
			sb.offer(e)
		}
	}
	return nil
}

// ensureOpen opens the live segment, rotating first when the next entry
// (n bytes) would take it past SegmentBytes or the day has changed.
// Under st.mu.
func (s *Store) ensureOpen(st *stream, now time.Time, n int64) error {
	if st.f != nil && !s.rotates(st.seg, now, n) {
		return nil
	}
	rotating := st.f != nil
	if err := st.closeFile(); err != nil {
		s.log.Warn("close log segment", "stream", st.key.String(), "err", err)
	}
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return fmt.Errorf("create log dir %s: %w", st.key, err)
	}
	segs, err := listSegments(st.dir)
	if err != nil {
		return err
	}
	seq := 1
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		if !rotating && !s.rotates(last, now, n) {
			return st.open(last, os.O_WRONLY|os.O_APPEND)
		}
		seq = last.Seq + 1
	}
	seg := segment{Seq: seq, Created: now.UTC().Truncate(time.Second), Path: filepath.Join(st.dir, segmentName(seq, now))}
	if err := st.open(seg, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND); err != nil {
		return err
	}
	// Retention runs on every rotation, the new segment counting as
	// newest and as full, so the stream stays under the cap as it fills.
	full := seg
	full.Size, full.ModTime = s.cfg.SegmentBytes, now
	s.applyRetention(st, append(segs, full), now)
	return nil
}

// rotates says whether seg takes no more entries: n more bytes would
// pass the segment size (a segment always takes its first entry), or it
// was opened on an earlier UTC day.
func (s *Store) rotates(seg segment, now time.Time, n int64) bool {
	if seg.Size > 0 && seg.Size+n > s.cfg.SegmentBytes {
		return true
	}
	y1, m1, d1 := seg.Created.UTC().Date()
	y2, m2, d2 := now.UTC().Date()
	return y1 != y2 || m1 != m2 || d1 != d2
}

func (st *stream) open(seg segment, flag int) error {
	f, err := os.OpenFile(seg.Path, flag, 0o600)
	if err != nil {
		return fmt.Errorf("open log segment %s: %w", st.key, err)
	}
	if info, err := f.Stat(); err == nil {
		seg.Size = info.Size()
	}
	st.f, st.w, st.seg = f, bufio.NewWriterSize(f, writeBuffer), seg
	return nil
}

// closeFile flushes and closes the live segment. Under st.mu.
func (st *stream) closeFile() error {
	if st.f == nil {
		return nil
	}
	err := st.w.Flush()
	if cerr := st.f.Close(); err == nil {
		err = cerr
	}
	st.f, st.w, st.dirty = nil, nil, false
	return err
}

// flush writes out the buffer. Under st.mu.
func (st *stream) flush() error {
	if st.f == nil || !st.dirty {
		return nil
	}
	st.dirty = false
	return st.w.Flush()
}

// flushAll flushes every stream; with closeIdle, it also closes the
// files of streams idle for a while (followers stay subscribed).
func (s *Store) flushAll(closeIdle bool) {
	now := s.cfg.Now()
	for _, st := range s.all() {
		st.mu.Lock()
		if err := st.flush(); err != nil {
			s.log.Warn("flush log", "stream", st.key.String(), "err", err)
		}
		if closeIdle && st.f != nil && now.Sub(st.lastWrite) > idleClose {
			st.closeFile()
		}
		st.mu.Unlock()
	}
}

// Sweep applies retention to every stream on disk.
func (s *Store) Sweep() {
	dirs, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "*", "*", "*"))
	now := s.cfg.Now()
	for _, dir := range dirs {
		rel, _ := filepath.Rel(s.cfg.Dir, dir)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 3 {
			continue
		}
		k := Key{Stack: parts[0], Stage: parts[1], Kind: Kind(parts[2])}
		if k.Stage == StackStage {
			k.Stage = ""
		}
		if k.validate() != nil {
			continue
		}
		st, err := s.stream(k, true)
		if err != nil {
			return // closed
		}
		st.mu.Lock()
		if segs, err := listSegments(st.dir); err == nil {
			if st.f != nil && len(segs) > 0 && segs[len(segs)-1].Seq == st.seg.Seq {
				segs[len(segs)-1].Size = st.seg.Size // with what is buffered
			}
			s.applyRetention(st, segs, now)
		}
		st.mu.Unlock()
	}
}

// applyRetention deletes st's expired segments (segs, oldest first).
// Under st.mu; the live segment, if it expires, is closed first, so the
// next entry starts a new one.
func (s *Store) applyRetention(st *stream, segs []segment, now time.Time) {
	for _, seg := range expired(segs, now, s.Retention()) {
		if st.f != nil && seg.Seq == st.seg.Seq {
			st.closeFile()
		}
		if err := os.Remove(seg.Path); err != nil && !os.IsNotExist(err) {
			s.log.Warn("delete expired log segment", "stream", st.key.String(), "err", err)
			continue
		}
		s.log.Debug("deleted expired log segment", "stream", st.key.String(), "segment", filepath.Base(seg.Path))
	}
}

// Remove deletes every log of a stack.
func (s *Store) Remove(stack string) error {
	if err := (Key{Stack: stack, Kind: Runtime}).validate(); err != nil {
		return err
	}
	s.mu.Lock()
	for k, st := range s.streams {
		if k.Stack == stack {
			st.mu.Lock()
			st.closeFile()
			st.mu.Unlock()
		}
	}
	s.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(s.cfg.Dir, stack)); err != nil {
		return fmt.Errorf("remove logs of %s: %w", stack, err)
	}
	return nil
}
