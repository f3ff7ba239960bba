package service

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/pipeline"
)

// ReleasespecFile is the optional buildspec run before each release.
const ReleasespecFile = "release.yml"

// runReleaseSpec runs a build's release.yml before releasing it to a
// stage, as TinyStacks' release step did: STAGE_NAME is the stage and
// PREVIOUS_STAGE_NAME the one before it ("latest" for the first). If it
// pushed $ECR_IMAGE_URL:$STAGE_NAME, that image is released; pinned by
// digest, since a stage tag moves. Otherwise the build's image is.
func (s *Service) runReleaseSpec(ctx context.Context, b core.Build, rel core.Release, emit func(core.Event)) (string, string, error) {
	spec, err := manifest.ParseBuildspec(ReleasespecFile, []byte(b.ReleaseYML))
	if err != nil {
		return "", "", err
	}
	prev := "latest"
	for i, st := range rel.Spec.Stages {
		if st.Name == rel.Stage && i > 0 {
			prev = rel.Spec.Stages[i-1].Name
		}
	}
	dir, err := os.MkdirTemp(s.cfg.tmpDir(), b.Stack+"-release-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	defer os.RemoveAll(dir + ".docker")
	version := b.Commit
	if version == "" {
		version = b.ID
	}
	vars, err := s.buildVars(b, rel.Spec, version, dir)
	if err != nil {
		return "", "", err
	}
	vars["STAGE_NAME"], vars["PREVIOUS_STAGE_NAME"] = rel.Stage, prev
	before, _ := s.cfg.Registry.Digest(ctx, b.Stack, rel.Stage)
	emit(core.Event{Type: core.EventStep, Stage: rel.Stage, Message: fmt.Sprintf("release.yml for stage %s (from %s)", rel.Stage, prev)})
	for _, w := range spec.Warnings {
		emit(core.Event{Type: core.EventLog, Message: "warning: " + w})
	}
	if err := pipeline.RunPhases(ctx, spec, dir, vars, s.cfg.BuildTimeout, s.where(b, rel.Spec, vars), func(ev core.Event) {
		if ev.Type == core.EventStep {
			ev.Message = "release.yml " + strings.TrimPrefix(ev.Message, "build.yml ")
		}
		emit(ev)
	}); err != nil {
		return "", "", fmt.Errorf("release.yml for stage %s: %w", rel.Stage, err)
	}
	after, err := s.cfg.Registry.Digest(ctx, b.Stack, rel.Stage)
	if err != nil || after == before {
		return b.Image, b.Digest, nil
	}
	if after == b.Digest {
		return b.Image, b.Digest, nil // it retagged the build's image, as TinyStacks' did
	}
	return s.cfg.Images.Registry + "/" + b.Stack + "@" + after, after, nil
}
