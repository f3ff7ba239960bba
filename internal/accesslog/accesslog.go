// Package accesslog records each stage's access log: one JSON object per
// request, queued off the request path and written to the log store's
// access stream of the stage (logstore.Access), which rotates, keeps and
// reads it.
package accesslog

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
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

const bufferEntries = 8192

// Store is where entries go (logstore.Store).
type Store interface {
	AppendLine(k logstore.Key, t time.Time, line []byte) error
}

var _ Store = (*logstore.Store)(nil)

// Config configures a Log.
type Config struct {
	Store  Store
	Logger *slog.Logger
}

// Log writes entries from a buffered channel; Record never blocks.
type Log struct {
	cfg     Config
	log     *slog.Logger
	ch      chan Entry
	dropped atomic.Int64
	line    []byte // the entry being written; only Run's goroutine uses it
}

// New makes a Log; Run writes what Record queues.
func New(cfg Config) *Log {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Log{cfg: cfg, log: cfg.Logger.With("component", "accesslog"), ch: make(chan Entry, bufferEntries)}
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

// Run writes entries until ctx ends, then writes what is queued. The
// store buffers and flushes them.
//
// It drains the queue every drainEvery rather than waiting on it: a
// writer parked on the channel would be woken for every request, and on
// a small machine those wake-ups cost the proxy more than the writing.
// The buffer holds bufferEntries, a drainEvery of entries at 400,000
// requests a second.
func (l *Log) Run(ctx context.Context) {
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.drain()
		case <-ctx.Done():
			l.drain()
			return
		}
	}
}

const drainEvery = 20 * time.Millisecond

// drain writes the entries queued now.
func (l *Log) drain() {
	for {
		select {
		case e := <-l.ch:
			l.write(e)
		default:
			return
		}
	}
}

func (l *Log) write(e Entry) {
	l.line = append(e.appendJSON(l.line[:0]), '\n')
	if err := l.cfg.Store.AppendLine(logstore.Key{Stack: e.Stack, Stage: e.Stage, Kind: logstore.Access}, e.Time, l.line); err != nil {
		l.log.Warn("access log", "stack", e.Stack, "stage", e.Stage, "err", err)
	}
}
