package serverless

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/store"
)

// UsageRetention is how long metered usage is kept (CloudWatch's default
// for Lambda metrics at one-minute resolution is 15 months; the
// dashboard's longest view is 90 days).
const UsageRetention = 90 * 24 * time.Hour

// Meter sums invocations into per-minute buckets in memory and flushes
// them to the store every FlushEvery, so metering a request costs a map
// update, not a write.
type Meter struct {
	store store.Store
	log   *slog.Logger

	mu      sync.Mutex
	pending map[bucketKey]*core.UsageBucket
}

type bucketKey struct {
	stack, stage string
	minute       int64
}

// FlushEvery is how often a Meter writes to the store.
const FlushEvery = 10 * time.Second

// NewMeter builds a Meter writing to st.
func NewMeter(st store.Store, log *slog.Logger) *Meter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Meter{store: st, log: log.With("component", "meter"), pending: map[bucketKey]*core.UsageBucket{}}
}

// Record meters one invocation.
func (m *Meter) Record(inv core.Invocation) {
	minute := inv.Time.UTC().Truncate(time.Minute)
	k := bucketKey{inv.Stack, inv.Stage, minute.Unix()}
	m.mu.Lock()
	b := m.pending[k]
	if b == nil {
		b = &core.UsageBucket{Stack: inv.Stack, Stage: inv.Stage, Minute: minute}
		m.pending[k] = b
	}
	b.Add(inv)
	m.mu.Unlock()
}

// Run flushes every FlushEvery, and once more when ctx ends; it prunes
// usage older than UsageRetention hourly.
func (m *Meter) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			m.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			m.Flush(ctx)
			if time.Since(lastPrune) > time.Hour {
				lastPrune = time.Now()
				if _, err := m.store.DeleteUsageBefore(ctx, time.Now().Add(-UsageRetention)); err != nil {
					m.log.Warn("prune usage", "err", err)
				}
			}
		}
	}
}

// Flush writes what has been metered since the last flush. On failure
// the buckets are kept for the next one.
func (m *Meter) Flush(ctx context.Context) {
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return
	}
	batch := make([]core.UsageBucket, 0, len(m.pending))
	for _, b := range m.pending {
		batch = append(batch, *b)
	}
	m.pending = map[bucketKey]*core.UsageBucket{}
	m.mu.Unlock()
	if err := m.store.AddUsage(ctx, batch); err != nil {
		m.log.Warn("save usage", "err", err)
		m.mu.Lock()
		for _, b := range batch {
			k := bucketKey{b.Stack, b.Stage, b.Minute.Unix()}
			if cur := m.pending[k]; cur != nil {
				cur.Merge(b)
			} else {
				bb := b
				m.pending[k] = &bb
			}
		}
		m.mu.Unlock()
	}
}

// Usage is a stage's usage over [since, until), what is stored plus what
// is still pending.
func (m *Meter) Usage(ctx context.Context, stack, stage string, since, until time.Time) (core.Usage, error) {
	buckets, err := m.store.ListUsage(ctx, stack, stage, since.UTC().Truncate(time.Minute), until)
	if err != nil {
		return core.Usage{}, err
	}
	m.mu.Lock()
	for _, b := range m.pending {
		if b.Stack == stack && (stage == "" || b.Stage == stage) && !b.Minute.Before(since.UTC().Truncate(time.Minute)) && b.Minute.Before(until) {
			buckets = append(buckets, *b)
		}
	}
	m.mu.Unlock()
	return core.SumUsage(stack, stage, since, until, buckets), nil
}
