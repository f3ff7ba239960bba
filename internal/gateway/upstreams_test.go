package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestRoundRobinDistributes(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}, {ID: "c", Addr: "c:1"}}}
	other := &Route{Host: "prod.hello.localhost", Backends: []Backend{{ID: "x", Addr: "x:1"}, {ID: "y", Addr: "y:1"}}}

	counts := map[string]int{}
	var order []string
	for i := 0; i < 300; i++ {
		b, release, err := rr.Acquire(context.Background(), route)
		if err != nil {
			t.Fatal(err)
		}
		if release != nil {
			release()
		}
		counts[b.ID]++
		if i < 6 {
			order = append(order, b.ID)
		}
		// Another route's traffic must not disturb this one's rotation.
		if _, _, err := rr.Acquire(context.Background(), other); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		if counts[id] != 100 {
			t.Fatalf("counts = %v, want 100 each", counts)
		}
	}
	if got := order; got[0] != "a" || got[1] != "b" || got[2] != "c" || got[3] != "a" {
		t.Fatalf("order = %v, want a b c a ...", got)
	}
}

func TestRoundRobinConcurrent(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}}}
	const workers, each = 8, 1000
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			local := map[string]int{}
			for i := 0; i < each; i++ {
				b, _, err := rr.Acquire(context.Background(), route)
				if err != nil {
					t.Error(err)
					return
				}
				local[b.ID]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts["a"] != workers*each/2 || counts["b"] != workers*each/2 {
		t.Fatalf("counts = %v, want an exact split", counts)
	}
}

func TestRoundRobinEmpty(t *testing.T) {
	_, _, err := RoundRobin().Acquire(context.Background(), &Route{Host: "dev.hello.localhost"})
	if !errors.Is(err, ErrNoBackend) {
		t.Fatalf("err = %v, want ErrNoBackend", err)
	}
}

func TestRoundRobinDoesNotAllocate(t *testing.T) {
	rr := RoundRobin()
	route := &Route{Host: "dev.hello.localhost", Backends: []Backend{{ID: "a", Addr: "a:1"}, {ID: "b", Addr: "b:1"}}}
	ctx := context.Background()
	_, _, _ = rr.Acquire(ctx, route)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = rr.Acquire(ctx, route) }); n != 0 {
		t.Fatalf("Acquire allocates %v times per call", n)
	}
}
