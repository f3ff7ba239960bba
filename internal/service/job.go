package service

import (
	"context"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Job is a running build-and-release. Its events are kept in memory for
// followers and passed to a log (the stack's build log in the log
// store), which outlives the job.
type Job struct {
	Stack, Build string

	mu      sync.Mutex
	events  []core.Event
	changed chan struct{} // closed and replaced on every append
	done    bool
	log     func(core.Event)
	cancel  context.CancelFunc
}

func newJob(stack, build string, log func(core.Event)) *Job {
	return &Job{Stack: stack, Build: build, changed: make(chan struct{}), log: log}
}

func (j *Job) emit(ev core.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Build == "" {
		ev.Build = j.Build
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done {
		return
	}
	j.events = append(j.events, ev)
	j.log(ev) // under the lock: the log keeps the events' order
	close(j.changed)
	j.changed = make(chan struct{})
	if ev.Type == core.EventDone || ev.Type == core.EventError {
		j.done = true
	}
}

// Follow calls fn for every event from the first, waiting for new ones,
// until the job ends (after its done or error event) or ctx ends.
func (j *Job) Follow(ctx context.Context, fn func(core.Event) error) error {
	next := 0
	for {
		j.mu.Lock()
		evs := j.events[next:]
		done, changed := j.done, j.changed
		j.mu.Unlock()
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
		next += len(evs)
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
