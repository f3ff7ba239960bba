package service

import "sync"

// runQueue hands a stack's pipeline runs their turn strictly in the
// order they were queued: build numbers are given out under the same
// lock that queues them (see Service.queueRun), so runs start in build
// order. A sync.Mutex would wake waiters in any order.
type runQueue struct {
	mu      sync.Mutex
	busy    bool
	waiting []chan struct{}
}

// enqueue takes a place in line. The returned channel is closed when
// the turn comes; the holder must then call done exactly once.
func (q *runQueue) enqueue() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	turn := make(chan struct{})
	if !q.busy {
		q.busy = true
		close(turn)
		return turn
	}
	q.waiting = append(q.waiting, turn)
	return turn
}

// done ends the current turn and starts the next in line.
func (q *runQueue) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return
	}
	next := q.waiting[0]
	q.waiting = q.waiting[1:]
	close(next)
}

// leave gives up a place in line that was never granted; if the turn
// had already come, it ends it.
func (q *runQueue) leave(turn chan struct{}) {
	q.mu.Lock()
	for i, w := range q.waiting {
		if w == turn {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			q.mu.Unlock()
			return
		}
	}
	q.mu.Unlock()
	q.done() // it was granted: pass the turn on
}

// wait blocks until turn comes or stop closes. It reports whether the
// turn came; if not, the place in line is given up.
func (q *runQueue) wait(turn chan struct{}, stop <-chan struct{}) bool {
	select {
	case <-turn:
		return true
	case <-stop:
		q.leave(turn)
		return false
	}
}
