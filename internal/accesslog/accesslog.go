// Package accesslog keeps each stage's access log: one JSON object per
// request, appended to per-stage files that rotate by size, written off
// the request path.
package accesslog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one request, as logged. The API key is named, never given.
type Entry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Stack     string    `json:"stack"`
	Stage     string    `json:"stage"`
	Method    string    `json:"method"`
	Host      string    `json:"host"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	LatencyMS float64   `json:"latency_ms"`
	Instance  string    `json:"instance,omitempty"`
	ColdStart bool      `json:"cold_start,omitempty"`
	InitMS    int64     `json:"init_ms,omitempty"`
	APIKey    string    `json:"api_key,omitempty"` // the key's name
	ClientIP  string    `json:"client_ip"`
}

// Defaults for Config's zero values.
const (
	DefaultSegmentBytes = 10 << 20 // a file rotates past this size
	DefaultSegments     = 5        // files kept per stage, the live one included
	bufferEntries       = 8192
)

// Config configures a Log.
type Config struct {
	Dir          string // <data-dir>/logs/access
	SegmentBytes int64
	Segments     int
	Logger       *slog.Logger
}

// Log writes entries from a buffered channel; Record never blocks.
type Log struct {
	cfg     Config
	log     *slog.Logger
	ch      chan Entry
	dropped atomic.Int64
	mu      sync.Mutex // guards files and reads against rotation
	files   map[string]*segment
}

type segment struct {
	f    *os.File
	w    *bufio.Writer
	size int64
}

// New makes a Log; Run writes what Record queues.
func New(cfg Config) *Log {
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.Segments <= 0 {
		cfg.Segments = DefaultSegments
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Log{cfg: cfg, log: cfg.Logger.With("component", "accesslog"), ch: make(chan Entry, bufferEntries), files: map[string]*segment{}}
}

// Record queues an entry. When the writer falls behind by more than the
// buffer, entries are dropped and counted rather than slow requests.
func (l *Log) Record(e Entry) {
	if e.Stack == "" {
		return // no route: nothing to file it under
	}
	select {
	case l.ch <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many entries were dropped so far.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Run writes entries until ctx ends, flushing at least every second,
// then writes what is queued and closes the files.
func (l *Log) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e := <-l.ch:
			l.write(e)
		case <-tick.C:
			l.flush()
		case <-ctx.Done():
			for {
				select {
				case e := <-l.ch:
					l.write(e)
				default:
					l.close()
					return
				}
			}
		}
	}
}

func (l *Log) dir(stack, stage string) string { return filepath.Join(l.cfg.Dir, stack, stage) }

func (l *Log) write(e Entry) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	key := e.Stack + "/" + e.Stage
	seg := l.files[key]
	if seg == nil {
		dir := l.dir(e.Stack, e.Stage)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			l.log.Warn("access log", "err", err)
			return
		}
		f, err := os.OpenFile(filepath.Join(dir, "access.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			l.log.Warn("access log", "err", err)
			return
		}
		st, _ := f.Stat()
		seg = &segment{f: f, w: bufio.NewWriterSize(f, 64<<10), size: st.Size()}
		l.files[key] = seg
	}
	if seg.size+int64(len(b)) > l.cfg.SegmentBytes && seg.size > 0 {
		l.rotate(key, seg, e.Stack, e.Stage)
		seg = l.files[key]
		if seg == nil {
			return
		}
	}
	n, _ := seg.w.Write(b)
	seg.size += int64(n)
}

// rotate closes the live file and shifts access.ndjson → .1 → .2 …,
// dropping the oldest. Under l.mu.
func (l *Log) rotate(key string, seg *segment, stack, stage string) {
	seg.w.Flush()
	seg.f.Close()
	delete(l.files, key)
	dir := l.dir(stack, stage)
	os.Remove(filepath.Join(dir, fmt.Sprintf("access.%d.ndjson", l.cfg.Segments-1)))
	for i := l.cfg.Segments - 2; i >= 1; i-- {
		os.Rename(filepath.Join(dir, fmt.Sprintf("access.%d.ndjson", i)), filepath.Join(dir, fmt.Sprintf("access.%d.ndjson", i+1)))
	}
	os.Rename(filepath.Join(dir, "access.ndjson"), filepath.Join(dir, "access.1.ndjson"))
	f, err := os.OpenFile(filepath.Join(dir, "access.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.log.Warn("access log", "err", err)
		return
	}
	l.files[key] = &segment{f: f, w: bufio.NewWriterSize(f, 64<<10)}
}

func (l *Log) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, seg := range l.files {
		seg.w.Flush()
	}
}

func (l *Log) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, seg := range l.files {
		seg.w.Flush()
		seg.f.Close()
		delete(l.files, k)
	}
}

// Query selects entries to read.
type Query struct {
	Since time.Time // only entries at or after
	Grep  string    // only lines containing this
	Tail  int       // only the last n (0: all)
}

// Read writes a stage's entries matching q, oldest first, as JSON lines.
func (l *Log) Read(stack, stage string, q Query, w io.Writer) error {
	l.flush()
	l.mu.Lock()
	defer l.mu.Unlock()
	dir := l.dir(stack, stage)
	var lines []string
	for i := l.cfg.Segments - 1; i >= 0; i-- {
		name := "access.ndjson"
		if i > 0 {
			name = fmt.Sprintf("access.%d.ndjson", i)
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if q.Grep != "" && !strings.Contains(line, q.Grep) {
				continue
			}
			if !q.Since.IsZero() {
				var e struct {
					Time time.Time `json:"time"`
				}
				if json.Unmarshal([]byte(line), &e) != nil || e.Time.Before(q.Since) {
					continue
				}
			}
			lines = append(lines, line)
			if q.Tail > 0 && len(lines) > 2*q.Tail {
				lines = append(lines[:0], lines[len(lines)-q.Tail:]...)
			}
		}
		f.Close()
	}
	if q.Tail > 0 && len(lines) > q.Tail {
		lines = lines[len(lines)-q.Tail:]
	}
	// Written without the lock: a slow reader must not stall the writer.
	l.mu.Unlock()
	defer l.mu.Lock()
	for _, line := range lines {
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes a stack's access logs.
func (l *Log) Remove(stack string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, seg := range l.files {
		if strings.HasPrefix(k, stack+"/") {
			seg.f.Close()
			delete(l.files, k)
		}
	}
	os.RemoveAll(filepath.Join(l.cfg.Dir, stack))
}
