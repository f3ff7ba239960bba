package limit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// key is one API key's state: its bucket, and its quota count for the
// current period as the sum of three parts, so that the request path
// never waits on the store: stored (the store's total when last read),
// flushing (sent by a Flush in progress) and pending (admitted since).
type key struct {
	id     string
	plan   *plan
	bucket *rate.Limiter // nil when the plan has no throttle

	mu         sync.Mutex
	start, end time.Time // current period; zero before the first request
	loaded     bool      // stored has been read for this period
	loadFailed bool      // the read failed: Flush retries it, not requests
	stored     int64
	flushing   int64
	pending    int64
	spill      []spill // counts of past periods not yet in the store
}

// spill is a count for a past period that still has to reach the store.
type spill struct {
	start time.Time
	n     int64
}

// take counts one request against the quota if it fits: remaining is
// what is left after it; retry, when it does not fit, is the time to the
// period's end.
func (k *key) take(ctx context.Context, store QuotaStore, now time.Time) (remaining int64, retry time.Duration, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !now.Before(k.end) {
		k.roll(now)
	}
	if !k.loaded && !k.loadFailed {
		// Once per key and period; a restart must not reset the count.
		if total, err := store.Add(ctx, k.id, k.start, 0); err != nil {
			k.loadFailed = true // enforce on local counts until Flush reads it
		} else {
			k.stored, k.loaded = total, true
		}
	}
	used := k.stored + k.flushing + k.pending
	if used >= k.plan.quota {
		return 0, k.end.Sub(now), false
	}
	k.pending++
	return k.plan.quota - used - 1, 0, true
}

// giveBack undoes a take whose request the stage bucket then refused.
func (k *key) giveBack(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Before(k.end) && !now.Before(k.start) && k.pending > 0 {
		k.pending--
	}
}

// roll moves the key into the period holding now; the old period's
// unsent count is kept for Flush. Called with mu held.
func (k *key) roll(now time.Time) {
	if k.pending > 0 {
		k.spill = append(k.spill, spill{k.start, k.pending})
	}
	// A Flush in progress for the old period spills its own count if it
	// fails (it finds start changed).
	k.start, k.end = Period(k.plan.period, now)
	k.loaded, k.loadFailed = false, false
	k.stored, k.flushing, k.pending = 0, 0, 0
}

// flush sends the key's unsent counts to the store. Only Flush calls it,
// one at a time.
func (k *key) flush(ctx context.Context, store QuotaStore) error {
	k.mu.Lock()
	spills := k.spill
	k.spill = nil
	start, n := k.start, k.pending
	send := !start.IsZero() && (n > 0 || !k.loaded)
	if send {
		k.pending = 0
		k.flushing += n
	}
	k.mu.Unlock()

	var firstErr error
	for _, s := range spills {
		if _, err := store.Add(ctx, k.id, s.start, s.n); err != nil {
			k.mu.Lock()
			k.spill = append(k.spill, s)
			k.mu.Unlock()
			if firstErr == nil {
				firstErr = fmt.Errorf("add %d to quota of key %s for %s: %w", s.n, k.id, s.start.Format(time.DateOnly), err)
			}
		}
	}
	if !send {
		return firstErr
	}
	total, err := store.Add(ctx, k.id, start, n)
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case !k.start.Equal(start): // the period rolled meanwhile
		if err != nil && n > 0 {
			k.spill = append(k.spill, spill{start, n})
		}
	case err != nil:
		k.flushing -= n
		k.pending += n
	default:
		k.flushing -= n
		k.stored, k.loaded, k.loadFailed = total, true, false
	}
	if err != nil && firstErr == nil {
		firstErr = fmt.Errorf("add %d to quota of key %s for %s: %w", n, k.id, start.Format(time.DateOnly), err)
	}
	return firstErr
}

// drained reports whether nothing of k is left to send.
func (k *key) drained() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pending == 0 && k.flushing == 0 && len(k.spill) == 0
}
