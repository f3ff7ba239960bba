package service

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Job is a running build-and-release. Its events are kept in memory for
// followers and appended to an NDJSON log file that outlives the job.
type Job struct {
	Stack, Build string

	mu      sync.Mutex
	events  []core.Event
	changed chan struct{} // closed and replaced on every append
	done    bool
	file    *os.File
	cancel  context.CancelFunc
}

func newJob(stack, build, logPath string) (*Job, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Job{Stack: stack, Build: build, changed: make(chan struct{}), file: f}, nil
}

func (j *Job) emit(ev core.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Build == "" {
		ev.Build = j.Build
	}
	b, _ := json.Marshal(ev)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done {
		return
	}
	j.events = append(j.events, ev)
	j.file.Write(append(b, '\n'))
	close(j.changed)
	j.changed = make(chan struct{})
	if ev.Type == core.EventDone || ev.Type == core.EventError {
		j.done = true
		j.file.Close()
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

// readEventLog replays a finished job's log file.
func readEventLog(path string, fn func(core.Event) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev core.Event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return sc.Err()
}
