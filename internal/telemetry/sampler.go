package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/engine"
)

// StageInstances is a deployed stage and its running instances, as the
// sampler reads them each time.
type StageInstances struct {
	Stack, Stage string
	// CPUs is the vCPU an instance reserves: cpu_percent is of that (100
	// = all of its share, as ECS's CPUUtilization). 0 means one core.
	CPUs      float64
	Instances []InstanceRef
}

// InstanceRef names a running instance: ID is the engine's container ID,
// Name the instance's name (the series label).
type InstanceRef struct{ ID, Name string }

// Source lists the deployed stages and their running instances.
type Source interface {
	Stages(ctx context.Context) ([]StageInstances, error)
}

// StatsReader samples an instance's resource use (engine.Engine).
type StatsReader interface {
	Stats(ctx context.Context, id string) (engine.Stats, error)
}

// Sampler sets the gauges every FineStep: instances per stage, and per
// instance cpu_percent and memory_mb, with their stage average (CPU) and
// sum (memory).
type Sampler struct {
	store *Store
	src   Source
	stats StatsReader
	log   *slog.Logger

	prev map[string]engine.Stats // last sample by instance ID
}

// NewSampler returns a Sampler feeding st.
func NewSampler(st *Store, src Source, stats StatsReader, log *slog.Logger) *Sampler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sampler{store: st, src: src, stats: stats, log: log.With("component", "metrics-sampler"), prev: map[string]engine.Stats{}}
}

// Run samples every FineStep until ctx ends.
func (m *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(FineStep)
	defer t.Stop()
	for {
		m.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one sample of every stage.
func (m *Sampler) Sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, FineStep)
	defer cancel()
	stages, err := m.src.Stages(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("list stages for metrics", "err", err)
		}
		return
	}
	m.store.keepStages(stages)
	names := map[string]string{}
	type result struct {
		stage    int
		id, name string
		cur      engine.Stats
		ok       bool
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for i, st := range stages {
		for _, in := range st.Instances {
			names[in.ID] = in.Name
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := m.stats.Stats(ctx, in.ID)
				mu.Lock()
				results = append(results, result{i, in.ID, in.Name, s, err == nil})
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	m.store.SetInstanceNames(names)
	cpuSum := make([]float64, len(stages))
	cpuN := make([]int, len(stages))
	memSum := make([]float64, len(stages))
	memN := make([]int, len(stages))
	seen := map[string]bool{}
	for _, r := range results {
		if !r.ok {
			continue
		}
		st := stages[r.stage]
		id := r.id
		seen[id] = true
		k := Key{Stack: st.Stack, Stage: st.Stage, Instance: r.name}
		mb := float64(r.cur.MemoryBytes) / (1 << 20)
		k.Metric = MemoryMB
		m.store.Set(k, mb)
		memSum[r.stage] += mb
		memN[r.stage]++
		if prev, ok := m.prev[id]; ok {
			if pct, ok := Utilization(prev, r.cur, st.CPUs); ok {
				k.Metric = CPUPercent
				m.store.Set(k, pct)
				cpuSum[r.stage] += pct
				cpuN[r.stage]++
			}
		}
		m.prev[id] = r.cur
	}
	for id := range m.prev {
		if !seen[id] {
			delete(m.prev, id)
		}
	}
	for i, st := range stages {
		k := Key{Stack: st.Stack, Stage: st.Stage}
		k.Metric = Instances
		m.store.Set(k, float64(len(st.Instances)))
		if memN[i] > 0 {
			k.Metric = MemoryMB
			m.store.Set(k, memSum[i])
		}
		if cpuN[i] > 0 {
			k.Metric = CPUPercent
			m.store.Set(k, cpuSum[i]/float64(cpuN[i]))
		}
	}
}

// Utilization is CPU use between two samples in percent of cpus vCPU (of
// one core when cpus is 0); ok is false when the samples give no rate.
func Utilization(prev, cur engine.Stats, cpus float64) (pct float64, ok bool) {
	dt := cur.Time.Sub(prev.Time)
	if dt <= 0 || cur.CPUNanos < prev.CPUNanos {
		return 0, false
	}
	if cpus <= 0 {
		cpus = 1
	}
	return 100 * float64(cur.CPUNanos-prev.CPUNanos) / float64(dt.Nanoseconds()) / cpus, true
}
