package service

import (
	"testing"
	"time"
)

func TestRunQueueIsFIFO(t *testing.T) {
	var q runQueue
	first := q.enqueue()
	select {
	case <-first:
	default:
		t.Fatal("an idle queue did not grant the first turn at once")
	}
	var turns []chan struct{}
	for i := 0; i < 50; i++ {
		turns = append(turns, q.enqueue())
	}
	order := make(chan int, len(turns))
	for i, turn := range turns {
		go func() {
			<-turn
			order <- i
			q.done()
		}()
	}
	time.Sleep(10 * time.Millisecond) // let every waiter block first
	q.done()
	for want := range turns {
		if got := <-order; got != want {
			t.Fatalf("turn %d ran in place %d", got, want)
		}
	}
	if !q.wait(q.enqueue(), nil) {
		t.Fatal("the queue was left busy after the last turn")
	}
	q.done()
}

func TestRunQueueLeave(t *testing.T) {
	var q runQueue
	q.enqueue() // held
	a, b := q.enqueue(), q.enqueue()
	stop := make(chan struct{})
	close(stop)
	if q.wait(a, stop) {
		t.Fatal("a stopped wait reported its turn")
	}
	q.done() // the holder finishes: b, not the departed a, is next
	select {
	case <-b:
	case <-time.After(time.Second):
		t.Fatal("the turn skipped over a departed waiter to nobody")
	}
	select {
	case <-a:
		t.Fatal("a departed waiter was granted a turn")
	default:
	}
	// Leaving after the turn came passes it on.
	c := q.enqueue()
	q.leave(b)
	select {
	case <-c:
	case <-time.After(time.Second):
		t.Fatal("leave after the turn came did not pass it on")
	}
}
