package docker

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Log rotation for every instance: the json-file driver (so Logs can read
// it back) bounded to 30 MB per container.
const (
	logDriver   = "json-file"
	logMaxSize  = "10m"
	logMaxFiles = "3"
)

// CreateContainer creates an instance with Slipway's fixed security
// settings; see createRequest.
func (d *Docker) CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	if spec.Image == "" {
		return "", core.Errorf(core.CodeInvalid, "create container %s: no image", spec.Name)
	}
	if spec.Network != "" {
		// Resolve the network here: Docker 20.10 accepts an unknown network
		// at create and fails only at start, and a name an old daemon let
		// be duplicated is ambiguous, while the ID is not.
		found, err := d.networksNamed(ctx, spec.Network)
		if err != nil {
			return "", d.fail(err, "create container %s: look up network %s", spec.Name, spec.Network)
		}
		if len(found) == 0 {
			return "", core.Errorf(core.CodeNotFound, "create container %s: network %s not found", spec.Name, spec.Network)
		}
		spec.Network = found[0].ID
	}
	res, err := d.cli.ContainerCreate(ctx, createRequest(spec))
	if err != nil {
		return "", d.fail(err, "create container %s", spec.Name)
	}
	for _, w := range res.Warnings {
		d.log.Warn("docker warned while creating a container", "container", spec.Name, "warning", w)
	}
	return res.ID, nil
}

// createRequest translates a spec into Docker's create options. The
// security settings are not options: no new privileges, every capability
// dropped, nothing published on the host (the gateway reaches instances on
// their network), and memory without swap so the limit is the limit.
func createRequest(spec engine.ContainerSpec) client.ContainerCreateOptions {
	cfg := &container.Config{
		Image:  spec.Image,
		Env:    slices.Clone(spec.Env),
		Labels: maps.Clone(spec.Labels),
	}
	if spec.StopTimeout > 0 {
		secs := ceilSeconds(spec.StopTimeout)
		cfg.StopTimeout = &secs
	}
	host := &container.HostConfig{
		SecurityOpt:     []string{"no-new-privileges"},
		CapDrop:         []string{"ALL"},
		PortBindings:    nil,
		PublishAllPorts: false,
		RestartPolicy:   container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig: container.LogConfig{
			Type:   logDriver,
			Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles},
		},
		Resources: container.Resources{
			Memory:   spec.MemoryBytes,
			NanoCPUs: spec.NanoCPUs,
		},
	}
	if spec.MemoryBytes > 0 {
		host.MemorySwap = spec.MemoryBytes
	}
	if spec.PidsLimit > 0 {
		limit := spec.PidsLimit
		host.PidsLimit = &limit
	}
	if spec.RestartAlways {
		host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	}
	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: slices.Clone(spec.Aliases)},
		}}
	}
	return client.ContainerCreateOptions{
		Name:             spec.Name,
		Config:           cfg,
		HostConfig:       host,
		NetworkingConfig: netCfg,
	}
}

// ceilSeconds rounds a duration up to whole seconds, the unit Docker
// takes for stop timeouts, so a grace period is never cut short.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// StartContainer starts a created or stopped instance.
func (d *Docker) StartContainer(ctx context.Context, id string) error {
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return d.fail(err, "start container %s", id)
	}
	return nil
}

// SetRestart switches the restart policy of a live instance between
// unless-stopped and none.
func (d *Docker) SetRestart(ctx context.Context, id string, always bool) error {
	policy := container.RestartPolicy{Name: container.RestartPolicyDisabled}
	if always {
		policy.Name = container.RestartPolicyUnlessStopped
	}
	if _, err := d.cli.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{RestartPolicy: &policy}); err != nil {
		return d.fail(err, "update restart policy of container %s", id)
	}
	return nil
}

// StopContainer asks the instance to stop with its stop signal (SIGTERM
// unless the image says otherwise) and kills it after grace, rounded up to
// a whole second. Stopping a stopped instance is not an error.
func (d *Docker) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	timeout := ceilSeconds(grace)
	if _, err := d.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		return d.fail(err, "stop container %s", id)
	}
	return nil
}

// PauseContainer freezes a running instance. Pausing a paused one is
// CodeConflict, as is pausing one that is not running.
func (d *Docker) PauseContainer(ctx context.Context, id string) error {
	if _, err := d.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
		return d.fail(err, "pause container %s", id)
	}
	return nil
}

// UnpauseContainer thaws a paused instance; one that is not paused is
// CodeConflict.
func (d *Docker) UnpauseContainer(ctx context.Context, id string) error {
	if _, err := d.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
		// Docker answers 500 for "is not paused", which is a state clash.
		if strings.Contains(err.Error(), "is not paused") {
			return core.Wrap(core.CodeConflict, err, "unpause container %s: %s", id, daemonMessage(err))
		}
		return d.fail(err, "unpause container %s", id)
	}
	return nil
}

// RemoveContainer force-removes an instance and its anonymous volumes. A
// missing instance, or one another caller is already removing, is not an
// error.
func (d *Docker) RemoveContainer(ctx context.Context, id string) error {
	_, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		return nil
	default:
		return d.fail(err, "remove container %s", id)
	}
}

// InspectContainer observes one instance.
func (d *Docker) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return engine.Container{}, d.fail(err, "inspect container %s", id)
	}
	return fromInspect(res.Container), nil
}

// ListContainers lists instances, running or not, carrying all labels.
// Each is inspected, since the list endpoint lacks exit codes, OOM kills,
// restart counts and times; one that vanishes in between is left out.
func (d *Docker) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, d.fail(err, "list containers")
	}
	out := make([]engine.Container, 0, len(res.Items))
	for _, item := range res.Items {
		c, err := d.InspectContainer(ctx, item.ID)
		if core.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// labelFilters builds Docker list/event filters matching all labels.
func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	return f
}

// fromInspect translates Docker's view of a container into Slipway's.
func fromInspect(c container.InspectResponse) engine.Container {
	out := engine.Container{
		ID:       c.ID,
		Name:     strings.TrimPrefix(c.Name, "/"),
		Restarts: c.RestartCount,
	}
	if c.Config != nil {
		// The reference the instance was created from, not the resolved
		// image ID, so callers can compare it with what they asked for.
		out.Image = c.Config.Image
		out.Labels = c.Config.Labels
	}
	if out.Image == "" {
		out.Image = c.Image
	}
	if s := c.State; s != nil {
		out.State = string(s.Status)
		out.Running = s.Running
		out.ExitCode = s.ExitCode
		out.OOMKilled = s.OOMKilled
		out.StartedAt = parseDockerTime(s.StartedAt)
		out.FinishedAt = parseDockerTime(s.FinishedAt)
	}
	if c.NetworkSettings != nil {
		out.IPAddress = userNetworkIP(c.NetworkSettings.Networks)
	}
	return out
}

// userNetworkIP returns the address on the first (by name) user-defined
// network, else on any network, else "".
func userNetworkIP(networks map[string]*network.EndpointSettings) string {
	names := slices.Sorted(maps.Keys(networks))
	pick := func(user bool) string {
		for _, name := range names {
			ep := networks[name]
			if ep == nil || !ep.IPAddress.IsValid() {
				continue
			}
			if user && isBuiltinNetwork(name) {
				continue
			}
			return ep.IPAddress.String()
		}
		return ""
	}
	if ip := pick(true); ip != "" {
		return ip
	}
	return pick(false)
}

func isBuiltinNetwork(name string) bool {
	return name == "bridge" || name == "host" || name == "none"
}

// parseDockerTime parses Docker's RFC 3339 times; Docker's "never"
// (0001-01-01T00:00:00Z) and anything unparsable become the zero time.
func parseDockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
