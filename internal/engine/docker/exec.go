package docker

import (
	"context"

	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
)

// Exec runs cmd in a running instance and returns its exit code, copying
// its stdout and stderr to the writers (nil discards) as they arrive and
// stdin (nil for none) to it; the command sees EOF once stdin does.
//
// The exit code is the command's, including the ones the runtime reports
// for a command it could not start (126 not executable, 127 not found):
// those are answers, not errors, and the runtime's explanation arrives on
// the output streams. Errors are for what stops the command being run or
// followed: an unknown instance (CodeNotFound), one not running or paused
// (CodeConflict), or a broken stream.
//
// Ending ctx stops following the command and returns ctx's error; Docker
// has no way to kill an exec'd process, so it runs on to its own end.
func (d *Docker) Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(cmd) == 0 {
		return -1, core.Errorf(core.CodeInvalid, "exec in container %s: no command", id)
	}
	created, err := d.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd:          cmd,
		AttachStdin:  stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return -1, d.fail(err, "exec %q in container %s", cmd[0], id)
	}
	att, err := d.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, d.fail(err, "exec %q in container %s: attach", cmd[0], id)
	}
	defer att.Close()
	// The hijacked connection outlives the request's context; tie it to
	// ctx so a cancelled caller is not left blocked reading it.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	if stdin != nil {
		// Not waited for: a stdin that never ends (or blocks) must not
		// keep Exec from returning once the command has exited. The copy
		// then fails on the closed connection at its next write.
		go func() {
			if _, err := io.Copy(att.Conn, stdin); err == nil {
				_ = att.CloseWrite()
			}
		}()
	}

	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if _, err := stdcopy.StdCopy(stdout, stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, ctx.Err())
		}
		return -1, fmt.Errorf("exec %q in container %s: read output: %w", cmd[0], id, err)
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, ctx.Err())
	}
	return d.execExitCode(ctx, created.ID, cmd[0], id)
}

// execExitCode waits for the daemon to record the exit of an exec whose
// output has ended. The output closes as the process exits, but the
// daemon can report it as still running for a moment after.
func (d *Docker) execExitCode(ctx context.Context, execID, name, id string) (int, error) {
	delay := 10 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := d.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return -1, d.fail(err, "exec %q in container %s: inspect", name, id)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return -1, core.Errorf(core.CodeInternal, "exec %q in container %s: output ended but the command still runs", name, id)
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("exec %q in container %s: %w", name, id, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}
