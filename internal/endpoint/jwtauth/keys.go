package jwtauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// maxJWKSBytes bounds a JWKS response; real ones are a few kilobytes.
const maxJWKSBytes = 1 << 20

// keySet is the authorizer's copy of the identity provider's JWKS.
//
// It is fetched on first use, then refetched on three occasions: in the
// background when its TTL runs out; on demand when a token names a kid
// it does not hold (a key rotated in early); and, after a failed fetch,
// again after cfg.failRetry. On-demand fetches are rate-limited to one
// per cfg.refetchInterval so that a flood of tokens with made-up kids
// cannot turn the gateway into a hammer on the IdP. A failed fetch
// keeps the keys already held.
type keySet struct {
	url    string
	client *http.Client
	logger *slog.Logger
	cfg    config

	mu          sync.Mutex
	set         jwk.Set       // nil until the first successful fetch
	lastAttempt time.Time     // start of the last fetch, successful or not
	next        time.Time     // when the refresher fetches; zero: not yet scheduled
	inflight    chan struct{} // closed when the running fetch ends; nil when none runs

	kick   chan struct{} // tells the refresher that next moved
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newKeySet(url string, client *http.Client, logger *slog.Logger, cfg config) *keySet {
	ctx, cancel := context.WithCancel(context.Background())
	k := &keySet{url: url, client: client, logger: logger, cfg: cfg,
		kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	k.wg.Add(1)
	go k.refresher()
	return k
}

// close stops the refresher and aborts a running fetch; it waits for
// the refresher to return.
func (k *keySet) close() {
	k.cancel()
	k.wg.Wait()
}

// key returns the verification key named kid, fetching the JWKS when it
// is not held and the rate limit allows.
func (k *keySet) key(ctx context.Context, kid string) (jwk.Key, error) {
	k.mu.Lock()
	if key, ok := k.lookupLocked(kid); ok {
		k.mu.Unlock()
		return key, nil
	}
	if done := k.inflight; done != nil {
		// Somebody is fetching already: wait for that fetch, not another.
		k.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: kid %q: %w", ErrUnknownKey, kid, ctx.Err())
		}
	} else {
		if !k.lastAttempt.IsZero() && k.cfg.now().Sub(k.lastAttempt) < k.cfg.refetchInterval {
			k.mu.Unlock()
			return nil, fmt.Errorf("%w: kid %q (jwks refetch rate-limited)", ErrUnknownKey, kid)
		}
		k.beginLocked()
		k.mu.Unlock()
		k.fetch("unknown kid")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.lookupLocked(kid); ok {
		return key, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// lookupLocked finds a signing key by kid, skipping encryption keys.
func (k *keySet) lookupLocked(kid string) (jwk.Key, bool) {
	if k.set == nil {
		return nil, false
	}
	for i := range k.set.Len() {
		key, ok := k.set.Key(i)
		if !ok {
			continue
		}
		if id, _ := key.KeyID(); id != kid {
			continue
		}
		if use, _ := key.KeyUsage(); use == "enc" {
			continue
		}
		return key, true
	}
	return nil, false
}

// beginLocked claims the right to fetch; the caller must call fetch.
func (k *keySet) beginLocked() {
	k.inflight = make(chan struct{})
	k.lastAttempt = k.cfg.now()
}

// fetch downloads the JWKS and installs it, or keeps the old keys.
func (k *keySet) fetch(reason string) {
	ctx, cancel := context.WithTimeout(k.ctx, k.cfg.fetchTimeout)
	set, ttl, err := k.download(ctx)
	cancel()

	k.mu.Lock()
	now := k.cfg.now()
	held := 0
	if err == nil {
		k.set, k.next = set, now.Add(ttl)
	} else {
		k.next = now.Add(k.cfg.failRetry)
	}
	if k.set != nil {
		held = k.set.Len()
	}
	close(k.inflight)
	k.inflight = nil
	k.mu.Unlock()

	select {
	case k.kick <- struct{}{}:
	default:
	}
	if err != nil {
		k.logger.Warn("fetch jwks failed, keeping the keys held", "reason", reason,
			"url", k.url, "keys_held", held, "err", err)
		return
	}
	k.logger.Debug("fetched jwks", "reason", reason, "keys", held, "ttl", ttl)
}

func (k *keySet) download(ctx context.Context) (jwk.Set, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("get jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("get jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("get jwks: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("read jwks: larger than %d bytes", maxJWKSBytes)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("parse jwks: %w", err)
	}
	// An empty set is more likely an IdP glitch than a revocation of
	// every key; keeping the old keys is the safer answer.
	if set.Len() == 0 {
		return nil, 0, fmt.Errorf("parse jwks: no keys")
	}
	return set, k.cfg.ttl(resp.Header.Get("Cache-Control")), nil
}

// refresher refetches the JWKS when next comes; fetches by others move
// next and kick it.
func (k *keySet) refresher() {
	defer k.wg.Done()
	for {
		k.mu.Lock()
		next := k.next
		k.mu.Unlock()

		var due <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(next.Sub(k.cfg.now()))
			due = timer.C
		}
		select {
		case <-k.ctx.Done():
			stop(timer)
			return
		case <-k.kick:
			stop(timer)
			continue
		case <-due:
		}
		k.mu.Lock()
		if k.inflight != nil {
			k.mu.Unlock() // its end kicks us
			continue
		}
		k.beginLocked()
		k.mu.Unlock()
		k.fetch("ttl")
	}
}

func stop(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// ttl is how long a fetched JWKS is fresh: Cache-Control's max-age when
// given, else cfg.defaultTTL, kept within [cfg.minTTL, cfg.maxTTL] so
// that "max-age=0" cannot make us poll the IdP in a loop.
func (c config) ttl(cacheControl string) time.Duration {
	ttl := c.defaultTTL
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
			ttl = time.Duration(min(n, int64(c.maxTTL/time.Second))) * time.Second
		}
		break
	}
	return min(max(ttl, c.minTTL), c.maxTTL)
}
