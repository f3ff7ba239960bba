package service

import (
	"context"
	"fmt"

	"github.com/slipwayhq/slipway/internal/core"
)

// Rollback makes a new release of a stage from an earlier one (its image
// and config snapshot, env included) and rolls it out at once, without a
// build. to names the release to restore; "" means the one that served
// before the current one. It returns the new release.
func (s *Service) Rollback(ctx context.Context, stack, stage, to string, emit func(core.Event)) (core.Release, error) {
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return core.Release{}, err
	}
	// The rollout runs to its end even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	unlock := s.lockStack(stack)
	defer unlock()
	rels, err := s.cfg.Store.ListReleases(ctx, stack, stage)
	if err != nil {
		return core.Release{}, err
	}
	serving := ""
	if srs, err := s.cfg.Store.StageReleases(ctx); err == nil {
		for _, sr := range srs {
			if sr.Stack == stack && sr.Stage == stage {
				serving = sr.Release
			}
		}
	}
	target, err := rollbackTarget(rels, serving, to)
	if err != nil {
		return core.Release{}, core.Errorf(core.CodeInvalid, "stage %s of %s: %s", stage, stack, err)
	}
	if b, err := s.cfg.Store.GetBuild(ctx, stack, target.Build); err == nil && b.Pruned {
		return core.Release{}, core.Errorf(core.CodeConflict, "release %s used build %s, whose image retention has removed (it keeps the last %d builds and the images of each stage's last %d releases)", target.ID, target.Build, s.cfg.KeepImages, s.cfg.KeepImages)
	}
	emit(core.Event{Type: core.EventStep, Message: fmt.Sprintf("roll %s/%s back to %s (build %s)", stack, stage, target.ID, target.Build)})
	rel, err := s.release(ctx, core.Release{Stack: stack, Stage: stage, Build: target.Build, Image: target.Image,
		Spec: target.Spec, Vars: target.Vars, Secrets: target.Secrets, Trigger: "rollback", From: target.ID}, false, emit)
	if err != nil {
		return rel, err
	}
	// The stage's env is now the restored one (so the next `env set` or
	// deploy builds on it), and approvals of the build rolled away from
	// are dropped: it was not good enough to keep.
	err = s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		ensure(&st.Vars, stage)
		ensure(&st.Secrets, stage)
		st.Vars[stage], st.Secrets[stage] = copyMap(target.Vars), copyMap(target.Secrets)
		for at, build := range st.Awaiting {
			if serving != "" && build == buildOf(rels, serving) {
				delete(st.Awaiting, at)
			}
		}
		return tx.UpdateStack(ctx, st)
	})
	return rel, err
}

func buildOf(rels []core.Release, id string) string {
	for _, r := range rels {
		if r.ID == id {
			return r.Build
		}
	}
	return ""
}

// rollbackTarget picks the release to restore: the named one, or the
// newest release before the serving one that served (failed releases
// never did). rels are newest first.
func rollbackTarget(rels []core.Release, serving, to string) (core.Release, error) {
	if to != "" {
		for _, r := range rels {
			if r.ID != to {
				continue
			}
			if r.Status == core.ReleaseFailed || r.Status == core.ReleasePending {
				return r, fmt.Errorf("release %s never served (it is %s); pick one that did: slipway releases", to, r.Status)
			}
			if r.ID == serving {
				return r, fmt.Errorf("release %s is already serving", to)
			}
			return r, nil
		}
		return core.Release{}, fmt.Errorf("no release %s; see `slipway releases`", to)
	}
	past := false
	for _, r := range rels {
		if r.ID == serving {
			past = true
			continue
		}
		if past && r.Status == core.ReleaseSuperseded && r.Image != "" {
			return r, nil
		}
	}
	return core.Release{}, fmt.Errorf("nothing to roll back to: no earlier release served this stage")
}
