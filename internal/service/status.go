package service

import (
	"context"
	"sort"

	"github.com/slipwayhq/slipway/internal/core"
)

// Status reports one stack.
func (s *Service) Status(ctx context.Context, name string) (core.StackStatus, error) {
	st, err := s.cfg.Store.GetStack(ctx, name)
	if err != nil {
		return core.StackStatus{}, err
	}
	serving := map[string]string{}
	srs, err := s.cfg.Store.StageReleases(ctx)
	if err != nil {
		return core.StackStatus{}, err
	}
	for _, sr := range srs {
		if sr.Stack == name {
			serving[sr.Stage] = sr.Release
		}
	}
	out := core.StackStatus{Name: st.Name, Architecture: st.Spec.Architecture, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt}
	if builds, err := s.cfg.Store.ListBuilds(ctx, name); err == nil && len(builds) > 0 {
		out.LastBuild = &builds[0]
	}
	instances := s.cfg.Controller.Instances(name)
	sort.Slice(instances, func(i, j int) bool { return instances[i].Name < instances[j].Name })
	for _, stage := range st.Spec.Stages {
		ss := core.StageStatus{Name: stage.Name, URL: s.URL(name, stage.Name), Status: "not-deployed", Instances: []core.Instance{},
			Endpoint: stage.EffectiveEndpoint().Kind, Routes: stage.Routes}
		for _, in := range instances {
			if in.Stage == stage.Name {
				ss.Instances = append(ss.Instances, in)
			}
		}
		rt := s.cfg.Controller.StageInfo(name, stage.Name)
		ss.Desired, ss.RollingOut, ss.Crash = rt.Desired, rt.RollingOut, rt.Crash
		serverless := st.Spec.Architecture == core.ArchServerless
		if serverless {
			fn := stage.EffectiveServerless()
			ss.Serverless = &fn
		} else {
			scale := stage.EffectiveScale()
			ss.Scale = &scale
		}
		ss.Awaiting = st.Awaiting[stage.Name]
		if id := serving[stage.Name]; id != "" {
			if rel, err := s.cfg.Store.GetRelease(ctx, name, id); err == nil {
				rel = masked(rel)
				ss.Release = &rel
			}
			ss.Status = "unhealthy"
			if serverless {
				ss.Status = "serving" // with no instance too: the next request starts one
			}
			for _, in := range ss.Instances {
				if in.Healthy && in.Release == id {
					ss.Status = "serving"
				}
			}
		}
		if rt.Crash != nil && rt.Crash.Crashes >= crashLooping {
			ss.Status = "CrashLooping"
		}
		if rt.RollingOut != "" || out.LastBuild != nil && out.LastBuild.Status == core.BuildRunning && stage.Name == st.Spec.FirstStage() {
			ss.Status = "deploying"
		}
		out.Stages = append(out.Stages, ss)
	}
	return out, nil
}

// List reports every stack.
func (s *Service) List(ctx context.Context) ([]core.StackStatus, error) {
	stacks, err := s.cfg.Store.ListStacks(ctx)
	if err != nil {
		return nil, err
	}
	out := []core.StackStatus{}
	for _, st := range stacks {
		ss, err := s.Status(ctx, st.Name)
		if core.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, nil
}

// Builds lists a stack's builds, newest first.
func (s *Service) Builds(ctx context.Context, stack string) ([]core.Build, error) {
	if _, err := s.cfg.Store.GetStack(ctx, stack); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListBuilds(ctx, stack)
}

// Build returns one build.
func (s *Service) Build(ctx context.Context, stack, id string) (core.Build, error) {
	return s.cfg.Store.GetBuild(ctx, stack, id)
}

// Releases lists a stack's releases (one stage, or all), newest first.
func (s *Service) Releases(ctx context.Context, stack, stage string) ([]core.Release, error) {
	if _, err := s.cfg.Store.GetStack(ctx, stack); err != nil {
		return nil, err
	}
	rels, err := s.cfg.Store.ListReleases(ctx, stack, stage)
	for i := range rels {
		rels[i] = masked(rels[i])
	}
	return rels, err
}

// crashLooping is how many consecutive crashes of a serving instance make
// its stage CrashLooping.
const crashLooping = 3
