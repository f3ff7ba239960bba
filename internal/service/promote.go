package service

import (
	"context"
	"fmt"

	"github.com/slipwayhq/slipway/internal/core"
)

// promote carries build b on through the stages after index from, in
// order: a stage that asks for approval holds it (until Approve), any
// other gets it released at once. A failed release stops the stages
// after it. The caller holds the stack lock.
func (s *Service) promote(ctx context.Context, b core.Build, spec core.StackSpec, from int, emit func(core.Event)) error {
	for i := from; i < len(spec.Stages); i++ {
		st := spec.Stages[i]
		if st.Approval {
			err := s.cfg.Store.Tx(ctx, func(tx storeTx) error {
				stack, err := tx.GetStack(ctx, b.Stack)
				if err != nil {
					return err
				}
				if stack.Awaiting == nil {
					stack.Awaiting = map[string]string{}
				}
				stack.Awaiting[st.Name] = b.ID // a newer build supersedes an older one waiting
				return tx.UpdateStack(ctx, stack)
			})
			if err != nil {
				return err
			}
			emit(core.Event{Type: core.EventStep, Stage: st.Name, Message: fmt.Sprintf("stage %s awaits approval of build %s: slipway approve %s %s", st.Name, b.ID, b.Stack, st.Name)})
			return nil
		}
		emit(core.Event{Type: core.EventStep, Stage: st.Name, Message: fmt.Sprintf("promote build %s to stage %s", b.ID, st.Name)})
		if _, err := s.release(ctx, core.Release{Stack: b.Stack, Stage: st.Name, Build: b.ID, Image: b.Image, Spec: spec, Trigger: "promote"}, false, emit); err != nil {
			return fmt.Errorf("release of build %s to stage %s failed, so later stages keep what they serve: %w", b.ID, st.Name, err)
		}
	}
	return nil
}

// Approve releases the build awaiting approval at a stage, then carries
// it on to the stages after (stopping at the next one that asks for
// approval). It returns the new release.
// expect, when set, is the build the approver saw waiting: if another
// has taken its place meanwhile, nothing is released.
func (s *Service) Approve(ctx context.Context, stack, stage, expect string, emit func(core.Event)) (core.Release, error) {
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return core.Release{}, err
	}
	ctx = context.WithoutCancel(ctx) // the rollout runs to its end
	unlock := s.lockStack(stack)
	defer unlock()
	var b core.Build
	var spec core.StackSpec
	err := s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		id := st.Awaiting[stage]
		if id == "" {
			return core.Errorf(core.CodeConflict, "stage %s of %s has no build awaiting approval; deploy or push first", stage, stack)
		}
		if expect != "" && expect != id {
			return core.Errorf(core.CodeConflict, "stage %s of %s now awaits build %s, not %s; check `slipway status %s` and approve again", stage, stack, id, expect, stack)
		}
		if b, err = tx.GetBuild(ctx, stack, id); err != nil {
			return err
		}
		delete(st.Awaiting, stage)
		// The build's image goes with the spec it was built with (its
		// newest release), not with whatever slipway.yml is newest.
		spec = st.Spec
		if rels, err := tx.ListReleases(ctx, stack, ""); err == nil {
			for _, r := range rels {
				if r.Build == id && r.Status != core.ReleaseFailed {
					spec = r.Spec
					break
				}
			}
		}
		return tx.UpdateStack(ctx, st)
	})
	if err != nil {
		return core.Release{}, err
	}
	emit(core.Event{Type: core.EventStep, Stage: stage, Message: fmt.Sprintf("approved: release build %s to stage %s", b.ID, stage)})
	rel, err := s.release(ctx, core.Release{Stack: stack, Stage: stage, Build: b.ID, Image: b.Image, Spec: spec, Trigger: "approve"}, false, emit)
	if err != nil {
		// Still awaiting: it can be approved again (unless a newer build
		// took its place meanwhile).
		s.cfg.Store.Tx(ctx, func(tx storeTx) error {
			st, err := tx.GetStack(ctx, stack)
			if err != nil || st.Awaiting[stage] != "" {
				return err
			}
			if st.Awaiting == nil {
				st.Awaiting = map[string]string{}
			}
			st.Awaiting[stage] = b.ID
			return tx.UpdateStack(ctx, st)
		})
		return rel, err
	}
	idx := 0
	for i, st := range spec.Stages {
		if st.Name == stage {
			idx = i
		}
	}
	return rel, s.promote(ctx, b, spec, idx+1, emit)
}
