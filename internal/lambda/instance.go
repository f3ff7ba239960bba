package lambda

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Instance is one registered function instance: a runtime that polls the
// Server for events. Its methods are safe for concurrent use.
type Instance struct {
	fn  FunctionInfo
	log *slog.Logger

	ready     chan struct{} // closed at the first GET /next
	readyOnce sync.Once
	initErr   chan FunctionError // buffered: holds the one init error
	failed    chan struct{}      // closed with the init error
	gone      chan struct{}      // closed by Unregister
	wake      chan struct{}      // buffered: a call waits to be delivered

	mu      sync.Mutex
	current *call // the one event in flight, nil when idle
	initFE  *FunctionError
	closed  bool
}

// call is one Invoke's event, from Invoke until the runtime answers.
type call struct {
	inv       Invocation
	deadline  time.Time
	delivered time.Time // zero until a GET /next carried the event
	abandoned bool      // Invoke gave up after delivery; the answer is dropped
	done      chan outcome
}

type outcome struct {
	res Result
	err error
}

func newInstance(fn FunctionInfo, log *slog.Logger) *Instance {
	return &Instance{
		fn:      fn,
		log:     log,
		ready:   make(chan struct{}),
		initErr: make(chan FunctionError, 1),
		failed:  make(chan struct{}),
		gone:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
}

// Ready is closed when the instance first asks for an event, that is when
// its init is done.
func (in *Instance) Ready() <-chan struct{} { return in.ready }

// InitError delivers the error the instance reports if its init fails. It
// fires at most once; the instance is then useless and should be removed.
func (in *Instance) InitError() <-chan FunctionError { return in.initErr }

// Invoke hands inv to the instance, at its pending or next GET /next, and
// waits for the answer. It returns ErrBusy at once if another Invoke is in
// flight, and ends early with ctx's error, at inv's deadline
// (context.DeadlineExceeded), or with ErrUnregistered or ErrInitFailed. A
// function error is not an error here: it is in Result.Error.
func (in *Instance) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	now := time.Now()
	if inv.RequestID == "" {
		inv.RequestID = newUUID()
	}
	if inv.TraceID == "" {
		inv.TraceID = newTraceID(now)
	}
	deadline := inv.Deadline
	if deadline.IsZero() {
		deadline, _ = ctx.Deadline()
	}
	if deadline.IsZero() {
		timeout := in.fn.Timeout
		if timeout <= 0 {
			timeout = MaxTimeout
		}
		deadline = now.Add(timeout)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	c := &call{inv: inv, deadline: deadline, done: make(chan outcome, 1)}
	in.mu.Lock()
	switch {
	case in.closed:
		in.mu.Unlock()
		return Result{}, ErrUnregistered
	case in.initFE != nil:
		err := fmt.Errorf("%w: %w", ErrInitFailed, in.initFE)
		in.mu.Unlock()
		return Result{}, err
	case in.current != nil:
		in.mu.Unlock()
		return Result{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ErrBusy)
	}
	in.current = c
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default: // a wake-up is already pending
	}

	select {
	case o := <-c.done:
		return o.res, o.err
	case <-in.gone:
		return Result{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ErrUnregistered)
	case <-in.failed:
		in.mu.Lock()
		err := fmt.Errorf("invoke %s: %w: %w", inv.RequestID, ErrInitFailed, in.initFE)
		in.mu.Unlock()
		return Result{}, err
	case <-ctx.Done():
		in.mu.Lock()
		if in.current == c {
			if c.delivered.IsZero() {
				in.current = nil // never seen by the runtime: forget it
			} else {
				// The runtime is working on it; keep the instance busy until
				// it answers, so that no second event queues behind it.
				c.abandoned = true
			}
		}
		in.mu.Unlock()
		return Result{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ctx.Err())
	}
}

// next waits for an event to hand to the runtime's GET /next. It returns
// nil when the request ends first, and errUnregistered or errInitReported when
// the runtime must not get one.
func (in *Instance) next(ctx context.Context) (*call, error) {
	in.mu.Lock()
	if in.initFE != nil {
		in.mu.Unlock()
		return nil, errInitReported
	}
	// Under mu, so that reportInitError sees init either over or not.
	in.readyOnce.Do(func() { close(in.ready) })
	in.mu.Unlock()
	for {
		in.mu.Lock()
		c := in.current
		if c != nil && c.delivered.IsZero() {
			c.delivered = time.Now()
			in.mu.Unlock()
			return c, nil
		}
		if c != nil {
			// Asking again means the runtime is done with c without
			// answering it.
			in.current = nil
			if !c.abandoned {
				c.done <- outcome{err: fmt.Errorf("invoke %s: %w", c.inv.RequestID, ErrNoResponse)}
			}
		}
		in.mu.Unlock()
		select {
		case <-in.wake:
		case <-in.gone:
			return nil, errUnregistered
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// answer ends the call with request id, if it is the one in flight.
// It reports false for an unknown or already answered id.
func (in *Instance) answer(id string, o outcome) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.current
	if c == nil || c.inv.RequestID != id || c.delivered.IsZero() {
		return false
	}
	in.current = nil
	if c.abandoned {
		in.log.Debug("late answer dropped", "request_id", id)
		return true
	}
	o.res.Duration = time.Since(c.delivered)
	c.done <- o
	return true
}

// reportInitError records the runtime's init error. It reports false when
// init is already over (the runtime asked for an event) or was reported.
func (in *Instance) reportInitError(fe FunctionError) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.ready:
		return false
	default:
	}
	if in.initFE != nil {
		return false
	}
	in.initFE = &fe
	in.initErr <- fe
	close(in.failed)
	return true
}

// unregister ends every wait on the instance.
func (in *Instance) unregister() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.closed {
		in.closed = true
		close(in.gone)
	}
}
