package gateway

import (
	"errors"
	"os"
	"testing"
	"time"
)

// The poke's end (poked) must not undo a timeout the sweeper sets as it
// ends: a wait marked timed out keeps its deadline in the past, or the
// sweeper, which looks no more at a timed-out wait, never ends it.
func TestPokedKeepsTimeout(t *testing.T) {
	client, server := tcpPair(t)
	f := &Frontend{g: New(Config{}), headerTimeout: ReadHeaderTimeout}
	fc := newFastConn(f, server)
	b := make([]byte, 1)
	for i := range 20000 {
		c := &fc.clock
		c.mu.Lock()
		c.phase, c.since, c.limit, c.timedOut, c.poke = phaseIdle, 0, 1, false, true
		c.mu.Unlock()
		server.SetReadDeadline(aLongTimeAgo) // the poke's
		swept := make(chan struct{})
		go func() { // the sweeper, the idle timeout long past
			defer close(swept)
			for {
				fc.check(100)
				c.mu.Lock()
				done := c.timedOut
				c.mu.Unlock()
				if done {
					return
				}
			}
		}()
		if !c.poked(server) {
			t.Fatal("poke not reported")
		}
		<-swept
		// Timed out: a read must fail at once. A byte waits, which a
		// read without a deadline would take instead.
		client.Write([]byte{'x'})
		_, err := server.Read(b)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("round %d: the wait timed out, but a read gets %v: its deadline was cleared", i, err)
		}
		server.SetReadDeadline(time.Time{})
		server.Read(b) // the byte
	}
}
