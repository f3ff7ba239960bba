package service

import (
	"context"
	"io"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/store"
)

// byArchitecture sends each call to the controller of the stack's
// architecture: container stacks to one, serverless stacks to the other.
type byArchitecture struct {
	container, serverless Controller
	store                 store.Store
}

var _ Controller = (*byArchitecture)(nil)

func (d *byArchitecture) of(stack string) Controller {
	st, err := d.store.GetStack(context.Background(), stack)
	if err == nil && st.Spec.Architecture == core.ArchServerless {
		return d.serverless
	}
	return d.container
}

func (d *byArchitecture) Rollout(ctx context.Context, rel core.Release, progress func(string), activate func(context.Context) error) error {
	if rel.Spec.Architecture == core.ArchServerless {
		return d.serverless.Rollout(ctx, rel, progress, activate)
	}
	return d.container.Rollout(ctx, rel, progress, activate)
}

func (d *byArchitecture) Abort(stack, stage string) (string, error) {
	return d.of(stack).Abort(stack, stage)
}

// RemoveStack removes both kinds of instance (a stack may have changed
// architecture), serverless first: the container controller removes the
// network they share.
func (d *byArchitecture) RemoveStack(ctx context.Context, stack string) error {
	if err := d.serverless.RemoveStack(ctx, stack); err != nil {
		return err
	}
	return d.container.RemoveStack(ctx, stack)
}

func (d *byArchitecture) Instances(stack string) []core.Instance {
	return append(d.container.Instances(stack), d.serverless.Instances(stack)...)
}

func (d *byArchitecture) StageInfo(stack, stage string) core.StageRuntime {
	return d.of(stack).StageInfo(stack, stage)
}

func (d *byArchitecture) Logs(ctx context.Context, stack, stage string, opts engine.LogOptions, w io.Writer) error {
	return d.of(stack).Logs(ctx, stack, stage, opts, w)
}

func (d *byArchitecture) Kick() {
	d.container.Kick()
	d.serverless.Kick()
}
