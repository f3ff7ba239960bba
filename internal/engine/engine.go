package engine

import (
	"bufio"
	"context"
	"io"
	"time"
)

// Engine builds images and runs instances.
//
// Errors carry core codes: CodeNotFound for an unknown container, image or
// network; CodeUnavailable when the runtime cannot be reached (with a
// message naming the socket tried and how to fix it); CodeBuildFailed for
// a failed image build.
type Engine interface {
	// Ping checks the runtime answers and reports its version.
	Ping(ctx context.Context) (Version, error)

	// BuildImage builds a tar build context into an image with the given
	// tags. Each output line of the build is passed to progress as it
	// arrives. It returns the image ID.
	BuildImage(ctx context.Context, opts BuildOptions, progress func(BuildEvent)) (string, error)
	// PushImage pushes a local image reference to its registry and returns
	// the pushed manifest digest ("sha256:...").
	PushImage(ctx context.Context, ref string, auth RegistryAuth, progress func(string)) (string, error)
	// TagImage gives a local image another reference.
	TagImage(ctx context.Context, ref, newRef string) error
	// RemoveImage removes a local image reference (untags; deletes the
	// image when no tags remain). Missing images are not an error.
	RemoveImage(ctx context.Context, ref string) error

	// EnsureNetwork creates a bridge network unless one with that name
	// exists, and returns its ID. An internal network has no route out of
	// the host (the host can still reach its containers).
	EnsureNetwork(ctx context.Context, name string, labels map[string]string, internal bool) (string, error)
	// NetworkExists reports whether a network of that name exists.
	NetworkExists(ctx context.Context, name string) (bool, error)
	// ConnectNetwork attaches a created or running instance to another
	// network, with DNS aliases there.
	ConnectNetwork(ctx context.Context, network, id string, aliases []string) error
	// NetworkGateway is the host's IPv4 address on a bridge network: where
	// its containers reach a service of the host (the Lambda Runtime API).
	NetworkGateway(ctx context.Context, name string) (string, error)
	// RemoveNetwork removes a network. Missing networks are not an error.
	RemoveNetwork(ctx context.Context, name string) error

	// CreateContainer creates (but does not start) an instance.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	StartContainer(ctx context.Context, id string) error
	// SetRestart turns an instance's restart-unless-stopped policy on or
	// off without restarting it.
	SetRestart(ctx context.Context, id string, always bool) error
	// StopContainer sends SIGTERM, then SIGKILL after grace.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// PauseContainer freezes every process of a running instance (the
	// cgroup freezer): it keeps its memory and uses no CPU.
	PauseContainer(ctx context.Context, id string) error
	// UnpauseContainer thaws a paused instance.
	UnpauseContainer(ctx context.Context, id string) error
	// RemoveContainer force-removes an instance. Missing is not an error.
	RemoveContainer(ctx context.Context, id string) error
	InspectContainer(ctx context.Context, id string) (Container, error)
	// ListContainers lists containers (running or not) carrying all labels.
	ListContainers(ctx context.Context, labels map[string]string) ([]Container, error)

	// Logs returns an instance's output as plain text lines (stdout and
	// stderr merged, Docker's stream framing removed).
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
	// LogLines calls fn with each line of an instance's output, naming
	// its stream and, with opts.Timestamps, the time the runtime got it.
	// It returns at the end of the output (when following: when the
	// instance stops), when ctx ends, or with fn's error. fn is called
	// from one goroutine.
	LogLines(ctx context.Context, id string, opts LogOptions, fn func(LogLine) error) error
	// Stats samples an instance's cumulative CPU time and memory use at
	// once (no waiting for a second sample): callers derive rates from
	// successive samples.
	Stats(ctx context.Context, id string) (Stats, error)
	// Exec runs cmd in a running instance, streaming its output, and
	// returns its exit code. stdin may be nil.
	Exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)

	// RunTask runs a one-off command in a throwaway container of spec's
	// image (pulled if it is not on the machine), copying its output to
	// out as it comes, and returns the command's exit code. The container
	// is removed when the command ends or ctx does (which kills it).
	// Unlike an instance, a task may bind-mount host paths, the Docker
	// socket among them, and use the host's network: build.image runs a
	// buildspec this way, with the trust that implies.
	RunTask(ctx context.Context, spec TaskSpec, out io.Writer) (int, error)

	// Events streams lifecycle events of containers carrying all labels
	// until ctx ends. The error channel gets at most one error.
	Events(ctx context.Context, labels map[string]string) (<-chan Event, <-chan error)
}

// Version describes the runtime.
type Version struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
}

// BuildOptions for BuildImage.
type BuildOptions struct {
	Context    io.Reader // an uncompressed tar stream
	Dockerfile string    // path inside the context; "" means "Dockerfile"
	Tags       []string
	Labels     map[string]string
	NoCache    bool
}

// BuildEvent is one step of progress from an image build.
type BuildEvent struct {
	// Step is set when a new Dockerfile step starts, e.g. "Step 2/3 : COPY app /app".
	Step string
	// Line is a line of output (may be empty when Step is set).
	Line string
}

// RegistryAuth is basic-auth for a registry push.
type RegistryAuth struct {
	Username string
	Password string
}

// ContainerSpec describes an instance to create. Every instance is
// created with no-new-privileges, all capabilities dropped and no
// published host ports; that is not configurable.
type ContainerSpec struct {
	Name          string
	Image         string
	Env           []string // KEY=value
	Labels        map[string]string
	Network       string   // network name to attach to
	Aliases       []string // DNS aliases on that network
	MemoryBytes   int64
	NanoCPUs      int64
	PidsLimit     int64
	StopTimeout   time.Duration
	RestartAlways bool // restart unless stopped (survives daemon restarts)
}

// TaskSpec describes a one-off command for RunTask.
type TaskSpec struct {
	Name       string
	Image      string
	Cmd        []string
	Env        []string // KEY=value, over the image's own
	WorkingDir string
	Labels     map[string]string
	// Mounts are host paths bound into the task read-write, each at the
	// same path inside, so paths in variables mean the same there.
	Mounts []string
	// DockerSocket gives the task the engine's socket at
	// /var/run/docker.sock (and DOCKER_HOST pointing at it).
	DockerSocket bool
	// HostNetwork runs the task in the host's network namespace, so
	// loopback addresses (the embedded registry) are reachable.
	HostNetwork bool
}

// Container is an observed instance.
type Container struct {
	ID         string
	Name       string
	Image      string
	Labels     map[string]string
	State      string // created, running, paused, restarting, exited, dead
	Running    bool
	ExitCode   int
	OOMKilled  bool
	Restarts   int    // times the engine restarted it (restart policy)
	IPAddress  string // on the container's first user network; "" if none
	StartedAt  time.Time
	FinishedAt time.Time
}

// LogOptions for Logs.
type LogOptions struct {
	Follow     bool
	Tail       int // 0 means all
	Since      time.Time
	Timestamps bool
}

// LogLine is one line of an instance's output.
type LogLine struct {
	Stream string    // "stdout" or "stderr" ("stdout" for a TTY's one stream)
	Time   time.Time // with LogOptions.Timestamps
	Text   string    // without its line end
}

// Stats is one sample of an instance's resource use.
type Stats struct {
	Time        time.Time
	CPUNanos    uint64 // cumulative CPU time used, all cores
	MemoryBytes uint64 // current usage (without page cache where the engine reports it)
	MemoryLimit uint64
}

// Event is a container lifecycle event ("start", "die", "stop", "destroy", ...).
type Event struct {
	Action      string
	ContainerID string
	Labels      map[string]string
	Time        time.Time
}

// LastLines returns an instance's last n lines of output.
func LastLines(ctx context.Context, e Engine, id string, n int) ([]string, error) {
	rc, err := e.Logs(ctx, id, LogOptions{Tail: n})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}
