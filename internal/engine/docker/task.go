package docker

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// containerSocket is where a task sees the engine's socket.
const containerSocket = "/var/run/docker.sock"

// RunTask runs spec.Cmd in a throwaway container; see engine.Engine.
//
// The output is read by attaching before the start, so nothing the
// command prints early is lost, and the exit code comes from a wait
// registered before the start too. The container is force-removed on
// the way out, whatever happened, which is also how a cancelled ctx
// kills the command.
func (d *Docker) RunTask(ctx context.Context, spec engine.TaskSpec, out io.Writer) (int, error) {
	if spec.Image == "" || len(spec.Cmd) == 0 {
		return -1, core.Errorf(core.CodeInvalid, "run task %s: an image and a command are needed", spec.Name)
	}
	if out == nil {
		out = io.Discard
	}
	req, err := d.taskRequest(spec)
	if err != nil {
		return -1, err
	}
	if err := d.ensureImage(ctx, spec.Image); err != nil {
		return -1, err
	}
	res, err := d.cli.ContainerCreate(ctx, req)
	if err != nil {
		return -1, d.fail(err, "create task container from %s", spec.Image)
	}
	id := res.ID
	defer func() {
		// Not under ctx: a cancelled task must still go.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := d.cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			d.log.Warn("remove task container", "container", id, "err", err)
		}
	}()
	att, err := d.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return -1, d.fail(err, "attach to task container from %s", spec.Image)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	wait := d.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return -1, d.fail(err, "start task container from %s", spec.Image)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(out, out, att.Reader)
		copied <- err
	}()
	select {
	case r := <-wait.Result:
		// The output ends as the process does; take what is in flight.
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		if r.Error != nil && r.Error.Message != "" {
			return -1, core.Errorf(core.CodeInternal, "task container from %s: %s", spec.Image, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, d.fail(err, "wait for task container from %s", spec.Image)
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// taskRequest translates a task spec into create options.
func (d *Docker) taskRequest(spec engine.TaskSpec) (client.ContainerCreateOptions, error) {
	env := slices.Clone(spec.Env)
	var binds []string
	for _, m := range spec.Mounts {
		if !strings.HasPrefix(m, "/") || strings.Contains(m, ":") {
			return client.ContainerCreateOptions{}, core.Errorf(core.CodeInvalid, "run task %s: mount %q must be an absolute path without ':'", spec.Name, m)
		}
		binds = append(binds, m+":"+m)
	}
	if spec.DockerSocket {
		sock, ok := strings.CutPrefix(d.host, "unix://")
		if !ok {
			return client.ContainerCreateOptions{}, core.Errorf(core.CodeInvalid, "run task %s: the engine is at %s, not a unix socket, so it cannot be mounted into the build container", spec.Name, d.host)
		}
		binds = append(binds, sock+":"+containerSocket)
		env = append(env, "DOCKER_HOST=unix://"+containerSocket)
	}
	host := &container.HostConfig{
		Binds: binds,
		LogConfig: container.LogConfig{
			Type:   logDriver,
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
	}
	if spec.HostNetwork {
		host.NetworkMode = "host"
	}
	return client.ContainerCreateOptions{
		Name: spec.Name,
		Config: &container.Config{
			Image:        spec.Image,
			Cmd:          slices.Clone(spec.Cmd),
			Entrypoint:   []string{""}, // reset: the command is the whole story
			Env:          env,
			WorkingDir:   spec.WorkingDir,
			Labels:       maps.Clone(spec.Labels),
			AttachStdout: true,
			AttachStderr: true,
		},
		HostConfig: host,
	}, nil
}

// ensureImage pulls image unless the engine already has it.
func (d *Docker) ensureImage(ctx context.Context, image string) error {
	if _, err := d.cli.ImageInspect(ctx, image); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return d.fail(err, "look up image %s", image)
	}
	res, err := d.cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err == nil {
		err = res.Wait(ctx)
		res.Close()
	}
	if err != nil {
		return core.Wrap(core.CodeNotFound, err, "image %s is not on this machine and could not be pulled: %s", image, daemonMessage(err))
	}
	return nil
}
