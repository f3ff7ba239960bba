package service

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// MaxUsageWindow is the longest window usage is asked over: what the
// meter keeps.
const MaxUsageWindow = 90 * 24 * time.Hour

// Usage sums a serverless stage's invocations over the last since.
func (s *Service) Usage(ctx context.Context, stack, stage string, since time.Duration) (core.Usage, error) {
	if err := s.serverlessStage(ctx, stack, stage); err != nil {
		return core.Usage{}, err
	}
	if since <= 0 || since > MaxUsageWindow {
		return core.Usage{}, core.Errorf(core.CodeInvalid, "invalid window %s: use 1m to 2160h (90 days), e.g. 24h", since)
	}
	now := time.Now().UTC()
	return s.cfg.Usage.Usage(ctx, stack, stage, now.Add(-since), now.Add(time.Minute))
}

// Invoke hands a raw event to a lambda stage and returns its response.
func (s *Service) Invoke(ctx context.Context, stack, stage string, event []byte) ([]byte, error) {
	if err := s.serverlessStage(ctx, stack, stage); err != nil {
		return nil, err
	}
	return s.cfg.Serverless.Invoke(ctx, stack, stage, event)
}

// serverlessStage checks the stage exists and is serverless.
func (s *Service) serverlessStage(ctx context.Context, stack, stage string) error {
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return err
	}
	if _, ok := st.Spec.Stage(stage); !ok {
		return core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
	}
	if st.Spec.Architecture != core.ArchServerless || s.cfg.Serverless == nil || s.cfg.Usage == nil {
		return core.Errorf(core.CodeInvalid, "stack %s uses the %s architecture; usage and invoke are for serverless stacks", stack, st.Spec.Architecture)
	}
	return nil
}
