package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
)

// fail turns an error from the Docker client into one carrying a core
// code. what is the lowercase context ("inspect container web-1").
//
// The mapping is in one place so every method agrees: an unreachable
// daemon is CodeUnavailable with a message saying how to fix it, unknown
// objects are CodeNotFound, clashes and in-use objects CodeConflict, and
// anything else keeps its cause (CodeInternal by default).
func (d *Docker) fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case client.IsErrConnectionFailed(err):
		return d.unavailable(err)
	case cerrdefs.IsNotFound(err):
		return core.Wrap(core.CodeNotFound, err, "%s: %s", what, daemonMessage(err))
	case cerrdefs.IsConflict(err), cerrdefs.IsPermissionDenied(err):
		// Docker answers 409 for name clashes and 403 for objects in use
		// (e.g. a network with attached containers).
		return core.Wrap(core.CodeConflict, err, "%s: %s", what, daemonMessage(err))
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// unavailable builds the one-line "cannot reach the daemon" error naming
// the address tried and the usual fix.
func (d *Docker) unavailable(err error) error {
	if strings.Contains(err.Error(), "permission denied") {
		return core.Wrap(core.CodeUnavailable, err,
			"permission denied on the Docker daemon socket at %s: add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or set DOCKER_HOST",
			d.host)
	}
	if d.hostFromEnv {
		return core.Wrap(core.CodeUnavailable, err,
			"cannot reach the Docker daemon at %s (from DOCKER_HOST): is dockerd running there? start it, or unset DOCKER_HOST to use unix:///var/run/docker.sock",
			d.host)
	}
	return core.Wrap(core.CodeUnavailable, err,
		"cannot reach the Docker daemon at %s: is dockerd running? start it (sudo systemctl start docker) or set DOCKER_HOST",
		d.host)
}

// daemonMessage is the daemon's own words without the client's
// "Error response from daemon: " prefix, on one line.
func daemonMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	return oneLine(msg)
}

// oneLine joins a multi-line message so it fits the one-line contract of
// core errors.
func oneLine(s string) string {
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}
