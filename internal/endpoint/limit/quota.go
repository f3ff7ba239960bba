package limit

import (
	"context"
	"sync"
	"time"
)

// QuotaStore keeps quota counts per API key and period so that they
// survive restarts. The Limiter calls it from Flush and once per key and
// period to load a total, never once per request.
type QuotaStore interface {
	// Add adds n (≥ 0) to the count of keyID for the period starting at
	// periodStart and returns the new total; n = 0 reads it (0 for a
	// period never counted). periodStart is a UTC period boundary;
	// implementations compare it as an instant (Unix seconds), not by
	// location.
	Add(ctx context.Context, keyID string, periodStart time.Time, n int64) (total int64, err error)
}

// MemoryQuotas is a QuotaStore in memory: for tests, and for a server
// without a store, where quotas then reset on restart.
type MemoryQuotas struct {
	mu     sync.Mutex
	counts map[quotaRow]int64
}

var _ QuotaStore = (*MemoryQuotas)(nil)

type quotaRow struct {
	key   string
	start int64 // Unix seconds
}

// NewMemoryQuotas returns an empty MemoryQuotas.
func NewMemoryQuotas() *MemoryQuotas {
	return &MemoryQuotas{counts: map[quotaRow]int64{}}
}

// Add implements QuotaStore.
func (m *MemoryQuotas) Add(ctx context.Context, keyID string, periodStart time.Time, n int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	row := quotaRow{keyID, periodStart.Unix()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n == 0 {
		return m.counts[row], nil
	}
	m.counts[row] += n
	return m.counts[row], nil
}
