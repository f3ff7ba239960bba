package docker

import (
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

func TestEnsureNetwork(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	cleanupNetwork(t, d, name)

	id, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: name})
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: "ignored"})
	if err != nil || again != id {
		t.Fatalf("second EnsureNetwork = %q, %v; want %q", again, err, id)
	}
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Driver != "bridge" || found[0].Labels[testLabel] != name {
		t.Fatalf("networks named %s: %+v", name, found)
	}

	// A network with containers attached cannot go: that is a conflict.
	img := serverImage(t, d)
	cid := createTestContainer(t, d, engine.ContainerSpec{Image: img, Network: name})
	if err := d.StartContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	assertCode(t, d.RemoveNetwork(ctx, name), core.CodeConflict)
	if err := d.RemoveContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := d.RemoveNetwork(ctx, name); err != nil {
			t.Fatalf("RemoveNetwork: %v", err)
		}
	}
	if found, _ := d.networksNamed(ctx, name); len(found) != 0 {
		t.Errorf("network still there: %+v", found)
	}
}

// TestEnsureNetworkConcurrent races separate engines (so the in-process
// lock does not help) on one name: on Docker 20.10 the daemon would let
// each create its own network; all must agree on one, and only one may
// remain.
func TestEnsureNetworkConcurrent(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	const racers = 4
	engines := make([]*Docker, racers)
	for i := range engines {
		engines[i] = requireDocker(t)
	}
	cleanupNetwork(t, engines[0], name)

	ids := make([]string, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i, d := range engines {
		wg.Go(func() { ids[i], errs[i] = d.EnsureNetwork(ctx, name, nil) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("racers disagree: %q", ids)
		}
	}
	found, err := engines[0].networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != ids[0] {
		t.Errorf("networks named %s after the race: %+v", name, found)
	}
}
