package docker

import (
	"context"
	"encoding/json"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Stats takes one sample of an instance's resource use. It asks for a
// one-shot sample (API 1.41+), so the daemon does not wait a second to
// fill in a previous sample the caller would not use.
//
// Latency: Docker 20.10 still answers a one-shot request on the next tick
// of its stats collector, which ticks once a second for all containers,
// so a call takes 0-1 s (measured; 1-2 s without one-shot). Concurrent
// calls share the tick: sample many instances in parallel, not in turn.
//
// An instance that is not running has nothing to sample: CodeConflict.
func (d *Docker) Stats(ctx context.Context, id string) (engine.Stats, error) {
	res, err := d.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: false})
	if err != nil {
		return engine.Stats{}, d.fail(err, "read stats of container %s", id)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return engine.Stats{}, d.fail(err, "decode stats of container %s", id)
	}
	// A stopped (or just created) container gets an empty record with a
	// zero read time rather than an error.
	if s.Read.IsZero() || s.Read.Year() <= 1 {
		return engine.Stats{}, core.Errorf(core.CodeConflict, "read stats of container %s: it is not running", id)
	}
	return fromStats(s), nil
}

// fromStats translates one Docker stats record.
func fromStats(s container.StatsResponse) engine.Stats {
	return engine.Stats{
		Time:        s.Read,
		CPUNanos:    s.CPUStats.CPUUsage.TotalUsage,
		MemoryBytes: workingSet(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
	}
}

// workingSet is memory use without the page cache the kernel can drop at
// will, computed as `docker stats` does (and the kubelet's working set):
// usage minus inactive file pages, "total_inactive_file" on cgroup v1
// (which counts child cgroups too) and "inactive_file" on cgroup v2. The
// whole of "cache" is not subtracted: active file pages are not freely
// reclaimable, and cgroup v2 has no such total, so the two would
// disagree. Without the figure, usage is returned as it is.
func workingSet(m container.MemoryStats) uint64 {
	for _, key := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := m.Stats[key]; ok {
			if v < m.Usage {
				return m.Usage - v
			}
			return m.Usage
		}
	}
	return m.Usage
}
