package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// gcGrace is how old registry content must be before retention's garbage
// collection may delete it. A push uploads its blobs before the manifest
// that references them; an hour covers any push of ours. A push that
// takes longer fails at its manifest and is retried; it never leaves a
// tag pointing at a deleted blob (see registry.CollectGarbage).
const gcGrace = time.Hour

// keepSet is the pure retention rule: the newest keep successful builds,
// every build one of a stage's newest keep releases that served uses
// (rollback needs them), builds awaiting approval, and builds serving. builds and each stage's releases
// are newest first.
func keepSet(keep int, builds []core.Build, releases map[string][]core.Release, awaiting map[string]string, serving []string) map[string]bool {
	kept := map[string]bool{}
	n := 0
	for _, b := range builds {
		if b.Status == core.BuildSucceeded && n < keep {
			kept[b.ID] = true
			n++
		}
	}
	for _, rels := range releases {
		n := 0
		for _, r := range rels {
			// Only releases that served count: a failed one is no
			// rollback target.
			if r.Status != core.ReleaseActive && r.Status != core.ReleaseSuperseded {
				continue
			}
			if n >= keep {
				break
			}
			kept[r.Build] = true
			n++
		}
	}
	for _, id := range serving {
		kept[id] = true // what runs now, whatever else happened
	}
	for _, id := range awaiting {
		kept[id] = true
	}
	return kept
}

// prune untags, in the registry and the engine, the images of builds
// retention no longer keeps, marks those builds pruned and, when it
// pruned any, has the registry collect garbage; it returns the pruned
// builds and the bytes the registry freed. The caller holds the stack
// lock.
func (s *Service) prune(ctx context.Context, stack string) ([]string, int64, error) {
	pruned, err := s.untagPruned(ctx, stack)
	if err != nil || len(pruned) == 0 {
		return pruned, 0, err
	}
	// A failed collection loses nothing: the next one finds the same
	// garbage.
	stats, err := s.cfg.Registry.CollectGarbage(ctx, gcGrace)
	if err != nil {
		s.log.Warn("registry garbage collection", "stack", stack, "err", err)
		return pruned, 0, nil
	}
	return pruned, stats.Bytes, nil
}

// untagPruned is prune up to the garbage collection.
func (s *Service) untagPruned(ctx context.Context, stack string) ([]string, error) {
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return nil, err
	}
	builds, err := s.cfg.Store.ListBuilds(ctx, stack)
	if err != nil {
		return nil, err
	}
	releases := map[string][]core.Release{}
	for _, stage := range st.Spec.Stages {
		if releases[stage.Name], err = s.cfg.Store.ListReleases(ctx, stack, stage.Name); err != nil {
			return nil, err
		}
	}
	var serving []string
	for _, stage := range st.Spec.Stages {
		if rel, err := s.servingRelease(ctx, stack, stage.Name); err == nil && rel != nil {
			serving = append(serving, rel.Build)
		}
	}
	kept := keepSet(s.cfg.KeepImages, builds, releases, st.Awaiting, serving)
	keptTags := map[string]bool{}
	for _, b := range builds {
		if kept[b.ID] {
			keptTags[b.ID], keptTags[b.Commit] = true, true
		}
	}
	var pruned []string
	for _, b := range builds {
		if kept[b.ID] || b.Pruned || b.Status != core.BuildSucceeded {
			continue
		}
		for _, tag := range []string{b.ID, b.Commit} {
			if tag == "" || keptTags[tag] {
				continue
			}
			if err := s.cfg.Registry.Untag(ctx, stack, tag); err != nil {
				return pruned, err
			}
			if err := s.cfg.Engine.RemoveImage(ctx, s.cfg.Images.Ref(stack, tag)); err != nil {
				s.log.Warn("remove pruned local image", "stack", stack, "tag", tag, "err", err)
			}
		}
		b.Pruned = true
		if err := s.cfg.Store.PutBuild(ctx, b); err != nil {
			return pruned, err
		}
		pruned = append(pruned, b.ID)
	}
	return pruned, nil
}

// pruneAfter runs retention at the end of a job and says what it did.
func (s *Service) pruneAfter(ctx context.Context, stack string, emit func(core.Event)) {
	pruned, freed, err := s.prune(context.WithoutCancel(ctx), stack)
	if err != nil {
		s.log.Warn("retention", "stack", stack, "err", err)
		return
	}
	if len(pruned) > 0 {
		emit(core.Event{Type: core.EventLog, Message: fmt.Sprintf("retention: removed the images of %s (keeping the last %d builds and every image a stage's last %d releases use); the registry freed %s",
			strings.Join(pruned, ", "), s.cfg.KeepImages, s.cfg.KeepImages, formatBytes(freed))})
	}
}

// formatBytes is n in the largest binary unit that keeps it at least 1.
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 3 {
		v, unit = v/1024, unit+1
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"KiB", "MiB", "GiB", "TiB"}[unit])
}
