package docker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// BuildImage sends the tar context to the classic builder and streams its
// output to progress. The classic builder is asked for explicitly: its
// JSON stream ("Step 2/3 : ...", aux image ID) is what we parse, while
// BuildKit needs a session and speaks a different protocol.
func (d *Docker) BuildImage(ctx context.Context, opts engine.BuildOptions, progress func(engine.BuildEvent)) (string, error) {
	if opts.Context == nil {
		return "", core.Errorf(core.CodeInvalid, "build image: no build context")
	}
	if progress == nil {
		progress = func(engine.BuildEvent) {}
	}
	dockerfile := opts.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	res, err := d.cli.ImageBuild(ctx, opts.Context, client.ImageBuildOptions{
		Tags:        opts.Tags,
		Dockerfile:  dockerfile,
		Labels:      opts.Labels,
		NoCache:     opts.NoCache,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", d.buildFailure(err)
	}
	defer res.Body.Close()

	id, err := readBuildStream(res.Body, progress)
	if err != nil {
		if core.CodeOf(err) == core.CodeBuildFailed {
			return "", err
		}
		if ctx.Err() != nil {
			return "", d.fail(ctx.Err(), "build image")
		}
		return "", d.fail(err, "build image")
	}
	if strings.HasPrefix(id, "sha256:") {
		return id, nil
	}
	// No aux record: resolve the short ID from "Successfully built", or
	// else the first tag, to the full one.
	ref := id
	if ref == "" {
		if len(opts.Tags) == 0 {
			return "", core.Errorf(core.CodeInternal, "build image: the daemon reported no image ID")
		}
		ref = opts.Tags[0]
	}
	img, err := d.cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", d.fail(err, "inspect built image %s", ref)
	}
	return img.ID, nil
}

// buildFailure maps an error the daemon returned before streaming (a
// Dockerfile it cannot parse or find answers with an HTTP error, not a
// stream record) to CodeBuildFailed, keeping transport errors as they are.
func (d *Docker) buildFailure(err error) error {
	if client.IsErrConnectionFailed(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return d.fail(err, "build image")
	}
	return core.Wrap(core.CodeBuildFailed, err, "%s", daemonMessage(err))
}

// successfullyBuilt matches the classic builder's last line, a fallback
// for the image ID when no aux record carried it.
var successfullyBuilt = regexp.MustCompile(`^Successfully built ([0-9a-f]{12,64})$`)

// readBuildStream parses a classic-builder message stream: output lines
// go to progress (steps as Step, the rest as Line), an error record ends
// the build with CodeBuildFailed, and the aux record gives the image ID.
func readBuildStream(r io.Reader, progress func(engine.BuildEvent)) (string, error) {
	var (
		id       string
		shortID  string
		statuses statusDeduper
	)
	lines := lineSplitter{emit: func(line string) {
		if strings.HasPrefix(line, "Step ") {
			progress(engine.BuildEvent{Step: line})
			return
		}
		if m := successfullyBuilt.FindStringSubmatch(line); m != nil {
			shortID = m[1]
		}
		progress(engine.BuildEvent{Line: line})
	}}
	err := decodeStream(r, func(m *streamMessage) error {
		if msg := m.errorMessage(); msg != "" {
			lines.flush()
			return core.Errorf(core.CodeBuildFailed, "%s", msg)
		}
		if len(m.Aux) > 0 {
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
		if m.Stream != "" {
			lines.write(m.Stream)
		}
		// Status records come from pulling a base image.
		if line, ok := statuses.line(m); ok {
			lines.flush()
			progress(engine.BuildEvent{Line: line})
		}
		return nil
	})
	lines.flush()
	if err != nil {
		return "", err
	}
	if id == "" && shortID != "" {
		id = shortID
	}
	return id, nil
}
