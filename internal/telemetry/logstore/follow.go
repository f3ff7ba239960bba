package logstore

import (
	"context"
	"sync"
	"time"
)

// subBuffer is how many entries a follower may fall behind by before it
// stops getting them from memory and catches up from the files instead.
const subBuffer = 1024

// sub is a follower's subscription to one stream.
type sub struct {
	ch     chan Entry
	kick   chan struct{} // signalled when lagged is set
	lagged bool          // under the stream's mu: entries were dropped
}

func newSub() *sub {
	return &sub{ch: make(chan Entry, subBuffer), kick: make(chan struct{}, 1)}
}

// offer hands e to the follower, never blocking the writer. Under the
// stream's mu.
func (sb *sub) offer(e Entry) {
	if sb.lagged {
		return
	}
	select {
	case sb.ch <- e:
	default:
		sb.lagged = true
		select {
		case sb.kick <- struct{}{}:
		default:
		}
	}
}

func (s *Store) unsubscribe(k Key, sb *sub) {
	if st, err := s.stream(k, false); err == nil {
		st.mu.Lock()
		delete(st.subs, sb)
		st.mu.Unlock()
	}
}

// Follow calls fn with q's entries as Read does (Tail applying to those
// that exist), then with every new matching entry as it is appended,
// until ctx ends (it then returns nil), fn fails, or the clock passes
// q.Until. Entries are delivered exactly once: a follower that falls
// behind catches up from the files. fn is never called concurrently;
// across several keys, live entries come in the order they were
// appended to each stream.
func (s *Store) Follow(ctx context.Context, q Query, fn func(Entry) error) error {
	subs := make([]*sub, len(q.Keys))
	snaps := make([]snapshot, len(q.Keys))
	for i, k := range q.Keys {
		subs[i] = newSub()
		snap, err := s.snapshot(k, subs[i])
		if err != nil {
			for j := range i {
				s.unsubscribe(q.Keys[j], subs[j])
			}
			return err
		}
		defer s.unsubscribe(k, subs[i])
		snaps[i] = snap
	}
	if err := replay(ctx, q, snaps, fn); err != nil {
		return done(ctx, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // fn is called by one goroutine at a time
	emit := func(e Entry) error {
		if !q.keep(e) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		return fn(e)
	}
	errc := make(chan error, len(q.Keys))
	for i := range q.Keys {
		go func() { errc <- s.followKey(ctx, q, snaps[i], subs[i], emit) }()
	}
	var first error
	for range q.Keys {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return done(ctx, first)
}

// done turns the end of a follow by its context into nil.
func done(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// followKey delivers one stream's new entries until ctx ends or the
// clock passes q.Until.
func (s *Store) followKey(ctx context.Context, q Query, snap snapshot, sb *sub, emit func(Entry) error) error {
	cursor := snap.end
	var until <-chan time.Time
	if !q.Until.IsZero() {
		// Until is on the store's clock; the wait is on the real one.
		t := time.NewTimer(max(q.Until.Sub(s.cfg.Now()), 0))
		defer t.Stop()
		until = t.C
	}
	deliver := func(e Entry) error {
		cursor = e.pos
		return emit(e)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-until:
			return nil
		case e := <-sb.ch:
			if err := deliver(e); err != nil {
				return err
			}
		case <-sb.kick:
			// Entries were dropped: deliver what the channel holds, then
			// resubscribe and read the rest from the files.
			for drained := false; !drained; {
				select {
				case e := <-sb.ch:
					if err := deliver(e); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			next, err := s.snapshot(snap.key, sb)
			if err != nil {
				return err
			}
			it := newIterator(next, cursor, time.Time{})
			for it.peek() {
				if err := deliver(it.take()); err != nil {
					it.close()
					return err
				}
			}
			it.close()
			cursor = next.end
		}
	}
}
