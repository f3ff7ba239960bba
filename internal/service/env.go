package service

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Sealer seals secrets for storage (secrets.Box).
type Sealer interface {
	Seal(plain string) (string, error)
}

// Mask is how secret values are shown.
const Mask = "****"

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EnvChange sets and unsets variables of a stage (or, with Build, the
// stack's build variables). Secret seals the values set.
type EnvChange struct {
	Set    map[string]string `json:"set,omitempty"`
	Unset  []string          `json:"unset,omitempty"`
	Secret bool              `json:"secret,omitempty"`
}

// EnvVar is one variable as listed: secrets masked.
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"` // slipway.yml, env, secret, build
}

func (ch EnvChange) validate() error {
	if len(ch.Set) == 0 && len(ch.Unset) == 0 {
		return core.Errorf(core.CodeInvalid, "nothing to change: give KEY=VALUE pairs to set or names to unset")
	}
	for k := range ch.Set {
		if !envKeyRE.MatchString(k) {
			return core.Errorf(core.CodeInvalid, "invalid variable name %q: use letters, digits and '_', not starting with a digit", k)
		}
	}
	for _, k := range ch.Unset {
		if !envKeyRE.MatchString(k) {
			return core.Errorf(core.CodeInvalid, "invalid variable name %q: use letters, digits and '_', not starting with a digit", k)
		}
	}
	return nil
}

// SetEnv changes a stage's variables or secrets. They reach instances
// through a new release of the build the stage serves, made at once
// without a build; a stage that serves nothing gets them at its first
// release. The new release is returned (zero if none was made).
func (s *Service) SetEnv(ctx context.Context, stack, stage string, ch EnvChange, emit func(core.Event)) (core.Release, error) {
	if err := ch.validate(); err != nil {
		return core.Release{}, err
	}
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return core.Release{}, err
	}
	if ch.Secret && s.cfg.Sealer == nil {
		return core.Release{}, core.Errorf(core.CodeUnavailable, "secrets are not available on this server")
	}
	ctx = context.WithoutCancel(ctx)
	unlock := s.lockStack(stack)
	defer unlock()
	err := s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		vars, secs := ensure(&st.Vars, stage), ensure(&st.Secrets, stage)
		for k, v := range ch.Set {
			delete(vars, k)
			delete(secs, k)
			if ch.Secret {
				sealed, err := s.cfg.Sealer.Seal(v)
				if err != nil {
					return fmt.Errorf("seal %s: %w", k, err)
				}
				secs[k] = sealed
			} else {
				vars[k] = v
			}
		}
		for _, k := range ch.Unset {
			delete(vars, k)
			delete(secs, k)
		}
		st.UpdatedAt = time.Now().UTC()
		return tx.UpdateStack(ctx, st)
	})
	if err != nil {
		return core.Release{}, err
	}
	serving, err := s.servingRelease(ctx, stack, stage)
	if err != nil {
		return core.Release{}, fmt.Errorf("saved, but could not release them: %w", err)
	}
	if serving == nil {
		emit(core.Event{Type: core.EventLog, Message: fmt.Sprintf("saved; stage %s serves nothing yet, so its first release will carry them", stage)})
		return core.Release{}, nil
	}
	emit(core.Event{Type: core.EventStep, Stage: stage, Message: fmt.Sprintf("release build %s to %s again with the new variables", serving.Build, stage)})
	return s.release(ctx, core.Release{Stack: stack, Stage: stage, Build: serving.Build, Image: serving.Image, Spec: serving.Spec, Trigger: "env"}, false, emit)
}

// SetBuildEnv changes the stack's build variables; the next build sees them.
func (s *Service) SetBuildEnv(ctx context.Context, stack string, ch EnvChange) error {
	if err := ch.validate(); err != nil {
		return err
	}
	if ch.Secret {
		return core.Errorf(core.CodeInvalid, "build variables cannot be secret yet; set secrets per stage")
	}
	return s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		if st.BuildVars == nil {
			st.BuildVars = map[string]string{}
		}
		for k, v := range ch.Set {
			st.BuildVars[k] = v
		}
		for _, k := range ch.Unset {
			delete(st.BuildVars, k)
		}
		return tx.UpdateStack(ctx, st)
	})
}

// Env lists a stage's variables (or the stack's build variables when
// stage is ""), secrets masked.
func (s *Service) Env(ctx context.Context, stack, stage string) ([]EnvVar, error) {
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return nil, err
	}
	out := []EnvVar{}
	if stage == "" {
		for k, v := range st.BuildVars {
			out = append(out, EnvVar{Name: k, Value: v, Source: "build"})
		}
	} else {
		spec, ok := st.Spec.Stage(stage)
		if !ok {
			return nil, core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
		}
		seen := map[string]bool{}
		for k := range st.Secrets[stage] {
			out, seen[k] = append(out, EnvVar{Name: k, Value: Mask, Source: "secret"}), true
		}
		for k, v := range st.Vars[stage] {
			if !seen[k] {
				out, seen[k] = append(out, EnvVar{Name: k, Value: v, Source: "env"}), true
			}
		}
		for k, v := range spec.Env {
			if !seen[k] {
				out = append(out, EnvVar{Name: k, Value: v, Source: "slipway.yml"})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// withStageConfig gives a release the stage's current `env set`
// variables and sealed secrets; slipway.yml's env stays in the spec.
func withStageConfig(rel core.Release, st core.Stack) core.Release {
	rel.Vars, rel.Secrets = copyMap(st.Vars[rel.Stage]), copyMap(st.Secrets[rel.Stage])
	return rel
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// masked is a release as clients see it: secret values hidden.
func masked(rel core.Release) core.Release {
	if len(rel.Secrets) > 0 {
		m := map[string]string{}
		for k := range rel.Secrets {
			m[k] = Mask
		}
		rel.Secrets = m
	}
	return rel
}

func (s *Service) servingRelease(ctx context.Context, stack, stage string) (*core.Release, error) {
	srs, err := s.cfg.Store.StageReleases(ctx)
	if err != nil {
		return nil, err
	}
	for _, sr := range srs {
		if sr.Stack == stack && sr.Stage == stage {
			rel, err := s.cfg.Store.GetRelease(ctx, stack, sr.Release)
			if err != nil {
				return nil, err
			}
			return &rel, nil
		}
	}
	return nil, nil
}

func ensure(m *map[string]map[string]string, stage string) map[string]string {
	if *m == nil {
		*m = map[string]map[string]string{}
	}
	if (*m)[stage] == nil {
		(*m)[stage] = map[string]string{}
	}
	return (*m)[stage]
}
