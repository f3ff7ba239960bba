package limit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/slipwayhq/slipway/internal/core"
)

// FlushInterval is how often Run adds the counted requests to the
// QuotaStore: the most a crash can lose.
const FlushInterval = time.Second

// Reasons for a refusal.
const (
	ReasonRate  = "rate"  // a token bucket (the key's or the stage's) is empty
	ReasonQuota = "quota" // the key's quota for the period is used up
)

// Decision is the Limiter's answer for one request.
type Decision struct {
	OK     bool
	Reason string // ReasonRate or ReasonQuota when !OK
	// RetryAfter is when a retry may succeed: the bucket's next token, or
	// the end of the quota period.
	RetryAfter time.Duration
	// Remaining is what is left of the key's quota in the period after
	// this request when OK, 0 when refused for quota, and -1 when no
	// quota applies or the request was refused for rate.
	Remaining int64
}

// Limiter throttles one stage: its token bucket, and per API key the
// bucket and quota of the key's usage plan. It is safe for concurrent
// use.
type Limiter struct {
	now    func() time.Time
	stage  *rate.Limiter
	plans  map[string]*plan // immutable after New
	quotas QuotaStore

	mu      sync.RWMutex
	keys    map[string]*key
	retired []*key // replaced on a plan change; kept until flushed

	flushMu sync.Mutex // one Flush at a time
}

// plan is a checked core.UsagePlan.
type plan struct {
	rate   rate.Limit
	burst  int    // 0: no per-key bucket
	quota  int64  // 0: no quota
	period string // core.QuotaDay, Week or Month
}

// New checks the stage throttle and the usage plans and returns their
// Limiter. A zero stage throttle takes API Gateway's default (10,000
// req/s, burst 5,000); quotas nil counts in memory; now nil is time.Now.
// Errors are one line and carry core.CodeInvalid.
func New(stage core.Throttle, plans map[string]core.UsagePlan, quotas QuotaStore, now func() time.Time) (*Limiter, error) {
	if stage == (core.Throttle{}) {
		stage = core.Throttle{Rate: core.DefaultStageRate, Burst: core.DefaultStageBurst}
	}
	if err := checkThrottle("stage throttle", stage); err != nil {
		return nil, err
	}
	l := &Limiter{
		now:    now,
		stage:  rate.NewLimiter(rate.Limit(stage.Rate), stage.Burst),
		plans:  make(map[string]*plan, len(plans)),
		quotas: quotas,
		keys:   map[string]*key{},
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.quotas == nil {
		l.quotas = NewMemoryQuotas()
	}
	names := make([]string, 0, len(plans))
	for name := range plans {
		names = append(names, name)
	}
	sort.Strings(names) // the first error is the same every time
	for _, name := range names {
		p, err := checkPlan(name, plans[name])
		if err != nil {
			return nil, err
		}
		l.plans[name] = p
	}
	return l, nil
}

// checkThrottle checks a token bucket; what names it in errors.
func checkThrottle(what string, t core.Throttle) error {
	if !(t.Rate > 0) || math.IsInf(t.Rate, 0) {
		return core.Errorf(core.CodeInvalid, "%s: rate %v: want requests per second above 0", what, t.Rate)
	}
	if t.Burst < 1 {
		return core.Errorf(core.CodeInvalid, "%s: burst %d: want at least 1", what, t.Burst)
	}
	return nil
}

func checkPlan(name string, u core.UsagePlan) (*plan, error) {
	p := &plan{}
	if u.Throttle != (core.Throttle{}) { // a plan may leave throttling to the stage
		if err := checkThrottle(fmt.Sprintf("usage plan %q: throttle", name), u.Throttle); err != nil {
			return nil, err
		}
		p.rate, p.burst = rate.Limit(u.Throttle.Rate), u.Throttle.Burst
	}
	if q := u.Quota; q != nil {
		if q.Limit < 1 {
			return nil, core.Errorf(core.CodeInvalid, "usage plan %q: quota limit %d: want at least 1", name, q.Limit)
		}
		switch q.Period {
		case core.QuotaDay, core.QuotaWeek, core.QuotaMonth:
		default:
			return nil, core.Errorf(core.CodeInvalid, "usage plan %q: quota period %q: want %s, %s or %s",
				name, q.Period, core.QuotaDay, core.QuotaWeek, core.QuotaMonth)
		}
		p.quota, p.period = q.Limit, q.Period
	}
	return p, nil
}

// Allow decides one request. keyID is the authenticated API key's id
// ("" without one) and plan its usage plan; keys are remembered for the
// Limiter's life, so keyID must be a real key's. A quota is counted only
// for admitted requests. ctx bounds the one QuotaStore read a key makes
// per period.
func (l *Limiter) Allow(ctx context.Context, keyID, plan string) Decision {
	now := l.now()
	var k *key
	if keyID != "" {
		if p := l.plans[plan]; p != nil && (p.burst > 0 || p.quota > 0) {
			k = l.key(keyID, p)
		}
	}
	remaining := int64(-1)
	if k != nil {
		if k.bucket != nil && !k.bucket.AllowN(now, 1) {
			return Decision{Reason: ReasonRate, RetryAfter: nextToken(k.bucket, now), Remaining: -1}
		}
		if k.plan.quota > 0 {
			var ok bool
			var retry time.Duration
			if remaining, retry, ok = k.take(ctx, l.quotas, now); !ok {
				return Decision{Reason: ReasonQuota, RetryAfter: retry}
			}
		}
	}
	if !l.stage.AllowN(now, 1) {
		if remaining >= 0 {
			k.giveBack(now)
		}
		return Decision{Reason: ReasonRate, RetryAfter: nextToken(l.stage, now), Remaining: -1}
	}
	return Decision{OK: true, Remaining: remaining}
}

// nextToken is how long until b has a token again.
func nextToken(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	if missing <= 0 { // refilled since the refusal
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(b.Limit()) * float64(time.Second)))
}

// key returns keyID's state under p, making it on first sight.
func (l *Limiter) key(id string, p *plan) *key {
	l.mu.RLock()
	k := l.keys[id]
	l.mu.RUnlock()
	if k != nil && k.plan == p {
		return k
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if k = l.keys[id]; k != nil && k.plan == p {
		return k
	}
	if k != nil {
		// The caller changed the key's plan: start afresh from the store,
		// and keep the old state until Flush has written its counts.
		l.retired = append(l.retired, k)
	}
	k = &key{id: id, plan: p}
	if p.burst > 0 {
		k.bucket = rate.NewLimiter(p.rate, p.burst)
	}
	l.keys[id] = k
	return k
}

// Flush adds the requests counted since the last Flush to the QuotaStore
// and reads back the totals; it retries what failed before. Run calls it
// every FlushInterval; call it once more on shutdown.
func (l *Limiter) Flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	keys := make([]*key, 0, len(l.keys)+len(l.retired))
	for _, k := range l.keys {
		if k.plan.quota > 0 {
			keys = append(keys, k)
		}
	}
	keys = append(keys, l.retired...)
	l.mu.RUnlock()

	var errs []error
	for _, k := range keys {
		if err := k.flush(ctx, l.quotas); err != nil {
			errs = append(errs, err)
		}
	}
	l.mu.Lock()
	kept := l.retired[:0]
	for _, k := range l.retired {
		if !k.drained() {
			kept = append(kept, k)
		}
	}
	clear(l.retired[len(kept):])
	l.retired = kept
	l.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("flush quotas (%d of %d keys failed): %w", len(errs), len(keys), errs[0])
	}
	return nil
}

// Run flushes every FlushInterval until ctx is done, then once more
// (with 5 s to do it). Failures are logged and retried.
func (l *Limiter) Run(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("quota flush failed; will retry", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Flush(final); err != nil {
				log.Error("final quota flush failed; counts of the last second are lost", "err", err)
			}
			return
		}
	}
}
