package docker

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// minAPIVersion is the oldest Engine API Slipway supports (Docker 20.10).
const minAPIVersion = "1.41"

var _ engine.Engine = (*Docker)(nil)

// Docker is an engine.Engine backed by a Docker daemon.
type Docker struct {
	cli *client.Client
	log *slog.Logger

	// host is the daemon address in use and hostFromEnv whether it came
	// from DOCKER_HOST; both only shape the "cannot reach" message.
	host        string
	hostFromEnv bool

	networks networkLocks
}

// New returns an engine talking to the daemon named by DOCKER_HOST (and the
// other DOCKER_* variables), or unix:///var/run/docker.sock. It does not
// contact the daemon: the API version is negotiated down to the daemon's on
// first use, and an unreachable daemon surfaces as CodeUnavailable from
// each call rather than from New.
func New(logger *slog.Logger) (*Docker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	envHost := os.Getenv(client.EnvOverrideHost)
	// Negotiation is the client's default unless DOCKER_API_VERSION pins a
	// version; FromEnv honours that pin on purpose.
	cli, err := client.New(client.FromEnv)
	if err != nil {
		if envHost != "" {
			return nil, core.Wrap(core.CodeUnavailable, err,
				"cannot use DOCKER_HOST=%q: %v; unset it or set it to a daemon address such as unix:///var/run/docker.sock", envHost, err)
		}
		return nil, core.Wrap(core.CodeUnavailable, err, "create docker client: %v", err)
	}
	return &Docker{
		cli:         cli,
		log:         logger.With("component", "engine"),
		host:        cli.DaemonHost(),
		hostFromEnv: envHost != "",
	}, nil
}

// Close releases idle connections to the daemon.
func (d *Docker) Close() error { return d.cli.Close() }

// Ping checks the daemon answers, negotiates the API version, and reports
// the daemon's version. A daemon older than API 1.41 is reported as
// unavailable, since parts of the engine rely on 1.41 behaviour.
func (d *Docker) Ping(ctx context.Context) (engine.Version, error) {
	ping, err := d.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	// Checked before err: a daemon older than the client supports answers
	// the ping but fails negotiation, and deserves this message.
	if ping.APIVersion != "" && versions.LessThan(ping.APIVersion, minAPIVersion) {
		return engine.Version{}, core.Errorf(core.CodeUnavailable,
			"the Docker daemon at %s speaks API %s but Slipway needs %s or later (Docker 20.10+): upgrade Docker",
			d.host, ping.APIVersion, minAPIVersion)
	}
	if err != nil {
		return engine.Version{}, d.fail(err, "ping docker daemon")
	}
	v, err := d.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return engine.Version{}, d.fail(err, "read docker version")
	}
	return engine.Version{Version: v.Version, APIVersion: v.APIVersion}, nil
}

// String names the daemon, for logs.
func (d *Docker) String() string { return fmt.Sprintf("docker(%s)", d.host) }
