package pipeline

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/archive"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Images builds and pushes stack images.
type Images struct {
	Engine   engine.Engine
	Registry string // host:port of the embedded registry as the engine reaches it
	Auth     engine.RegistryAuth
}

// Ref is the image reference of a stack's tag: <registry>/<stack>:<tag>.
func (im *Images) Ref(stack, tag string) string {
	return im.Registry + "/" + stack + ":" + tag
}

// BuildAndPush builds dir into <registry>/<stack>:<buildID> and :latest
// and pushes both. It returns the build tag's reference and its digest.
func (im *Images) BuildAndPush(ctx context.Context, stack, buildID, dir, dockerfile string, extraTags []string, emit func(core.Event)) (string, string, error) {
	if _, err := os.Stat(filepath.Join(dir, dockerfile)); err != nil {
		return "", "", core.Errorf(core.CodeBuildFailed, "no %s in the build context; add one or set build.dockerfile in slipway.yml", dockerfile)
	}
	ref, latest := im.Ref(stack, buildID), im.Ref(stack, "latest")
	tail := &tailBuffer{max: 20}
	err := im.build(ctx, dir, dockerfile, []string{ref, latest}, tail, emit)
	if err != nil && cacheVanished(err) {
		// Another build's cleanup (or retention) removed an image this
		// build had picked from the cache; building again picks again.
		emit(core.Event{Type: core.EventLog, Message: "a cached layer was removed during the build; building again"})
		tail = &tailBuffer{max: 20}
		err = im.build(ctx, dir, dockerfile, []string{ref, latest}, tail, emit)
	}
	if err != nil {
		if core.CodeOf(err) == core.CodeBuildFailed {
			return "", "", core.Wrap(core.CodeBuildFailed, err, "image build failed: %v", oneLine(err)).WithDetails(tail.lines())
		}
		return "", "", fmt.Errorf("build image: %w", err)
	}
	return im.pushAll(ctx, stack, ref, extraTags, emit)
}

// build runs one image build of dir.
func (im *Images) build(ctx context.Context, dir, dockerfile string, tags []string, tail *tailBuffer, emit func(core.Event)) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.WriteDir(pw, dir, nil)) }()
	defer pr.Close()
	_, err := im.Engine.BuildImage(ctx, engine.BuildOptions{
		Context:    pr,
		Dockerfile: dockerfile,
		// No labels: each LABEL is an extra, uncached builder step (a
		// container start each), and a per-build label would make every
		// rebuild a new image. Tags say whose image it is.
		Tags: tags,
	}, func(ev engine.BuildEvent) {
		if ev.Step != "" {
			tail.add(ev.Step)
			emit(core.Event{Type: core.EventStep, Message: ev.Step})
		}
		if ev.Line != "" {
			tail.add(ev.Line)
			emit(core.Event{Type: core.EventLog, Message: ev.Line})
		}
	})
	return err
}

// cacheVanished reports a build that failed because an image it took
// from the build cache was deleted meanwhile.
func cacheVanished(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unable to find image") || strings.Contains(msg, "No such image")
}

// pushAll pushes the build's tag, then latest and any extra tags.
func (im *Images) pushAll(ctx context.Context, stack, ref string, extraTags []string, emit func(core.Event)) (string, string, error) {
	emit(core.Event{Type: core.EventStep, Message: "push " + ref})
	digest, err := im.Engine.PushImage(ctx, ref, im.Auth, func(l string) {
		emit(core.Event{Type: core.EventLog, Message: l})
	})
	if err != nil {
		return "", "", fmt.Errorf("push %s: %w", ref, err)
	}
	for _, tag := range append([]string{"latest"}, extraTags...) {
		other := im.Ref(stack, tag)
		if tag != "latest" {
			if err := im.Engine.TagImage(ctx, ref, other); err != nil {
				return "", "", fmt.Errorf("tag %s: %w", other, err)
			}
		}
		if _, err := im.Engine.PushImage(ctx, other, im.Auth, func(string) {}); err != nil {
			return "", "", fmt.Errorf("push %s: %w", other, err)
		}
	}
	return ref, digest, nil
}

// TagStage tags the image a stage now serves as <registry>/<stack>:<stage>
// and pushes that tag.
func (im *Images) TagStage(ctx context.Context, stack, image, stage string) error {
	ref := im.Ref(stack, stage)
	if err := im.Engine.TagImage(ctx, image, ref); err != nil {
		return err
	}
	_, err := im.Engine.PushImage(ctx, ref, im.Auth, func(string) {})
	return err
}

// DockerConfig writes a docker CLI config dir whose only credentials are
// the embedded registry's, for a buildspec's `docker push`.
func (im *Images) DockerConfig(dir string) error {
	auth := base64.StdEncoding.EncodeToString([]byte(im.Auth.Username + ":" + im.Auth.Password))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{im.Registry: map[string]string{"auth": auth}}})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600)
}

func oneLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
