package service

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// ScaleChange is a change to a stage's scale spec without a build; nil
// fields keep their value.
type ScaleChange struct {
	Min       *int `json:"min,omitempty"`
	Max       *int `json:"max,omitempty"`
	CPUTarget *int `json:"cpu_target,omitempty"`
}

// Scale changes a stage's min, max or CPU target. It takes effect at
// once (the controller clamps the instance count to the new bounds) and
// is kept in the stack's spec until the next deploy brings slipway.yml's.
func (s *Service) Scale(ctx context.Context, stack, stage string, ch ScaleChange) (core.ScaleSpec, error) {
	var out core.ScaleSpec
	err := s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		for i := range st.Spec.Stages {
			if st.Spec.Stages[i].Name != stage {
				continue
			}
			sc := st.Spec.Stages[i].EffectiveScale()
			if ch.Min != nil {
				sc.Min = *ch.Min
			}
			if ch.Max != nil {
				sc.Max = *ch.Max
			}
			if ch.CPUTarget != nil {
				sc.CPUTarget = *ch.CPUTarget
			}
			if err := sc.Validate(); err != nil {
				return err
			}
			st.Spec.Stages[i].Scale = sc
			st.UpdatedAt = time.Now().UTC()
			out = sc
			if err := tx.UpdateStack(ctx, st); err != nil {
				return err
			}
			return tx.AddEvent(ctx, core.StageEvent{Time: time.Now().UTC(), Stack: stack, Stage: stage, Type: "scale",
				Message: fmt.Sprintf("scale spec changed: min %d, max %d, cpu_target %d%%", sc.Min, sc.Max, sc.CPUTarget)})
		}
		return core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
	})
	if err == nil {
		s.cfg.Controller.Kick()
	}
	return out, err
}

// Events lists a stage's events, newest first.
func (s *Service) Events(ctx context.Context, stack, stage string, limit int) ([]core.StageEvent, error) {
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListEvents(ctx, stack, stage, limit)
}

// Abort stops a stage's rollout in progress; the previous release keeps
// serving. It returns the aborted release.
func (s *Service) Abort(ctx context.Context, stack, stage string) (string, error) {
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return "", err
	}
	return s.cfg.Controller.Abort(stack, stage)
}

// Exec runs a command in one of a stage's running instances (the given
// one, or the first healthy one) and returns its exit code.
func (s *Service) Exec(ctx context.Context, stack, stage, instance string, cmd []string, stdout, stderr io.Writer) (int, error) {
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return 0, err
	}
	if len(cmd) == 0 {
		return 0, core.Errorf(core.CodeInvalid, "no command given: `slipway exec %s %s -- CMD ARGS...`", stack, stage)
	}
	var pick *core.Instance
	var names []string
	for _, in := range s.cfg.Controller.Instances(stack) {
		if in.Stage != stage || in.State != "running" {
			continue
		}
		names = append(names, in.Name)
		in := in
		if instance != "" && (in.ID == instance || in.Name == instance || len(instance) >= 6 && len(in.ID) >= len(instance) && in.ID[:len(instance)] == instance) {
			pick = &in
			break
		}
		if instance == "" && (pick == nil || in.Healthy && !pick.Healthy) {
			pick = &in
		}
	}
	if pick == nil {
		if instance != "" {
			return 0, core.Errorf(core.CodeNotFound, "stage %s of %s has no running instance %q; running: %v", stage, stack, instance, names)
		}
		return 0, core.Errorf(core.CodeNotFound, "stage %s of %s has no running instance", stage, stack)
	}
	return s.cfg.Engine.Exec(ctx, pick.ID, cmd, nil, stdout, stderr)
}

func (s *Service) checkStage(ctx context.Context, stack, stage string) error {
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return err
	}
	if _, ok := st.Spec.Stage(stage); !ok {
		return core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
	}
	return nil
}
