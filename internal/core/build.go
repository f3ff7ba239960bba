package core

import "time"

// BuildStatus is where a build is in its life.
type BuildStatus string

const (
	BuildRunning   BuildStatus = "running"
	BuildSucceeded BuildStatus = "succeeded"
	BuildFailed    BuildStatus = "failed"
	// BuildSuperseded: a queued build of a push that a newer push replaced.
	BuildSuperseded BuildStatus = "superseded"
	// BuildTimedOut: killed when it ran past the build timeout.
	BuildTimedOut BuildStatus = "timed_out"
	// BuildInterrupted: the server stopped while it ran; `builds retry`
	// runs it again.
	BuildInterrupted BuildStatus = "interrupted"
)

// Finished reports whether a build in this status has ended.
func (s BuildStatus) Finished() bool { return s != BuildRunning }

// Build turns a source context into an image in the embedded registry.
type Build struct {
	ID      string      `json:"id"` // "b<seq>", unique per stack; also the image tag
	Stack   string      `json:"stack"`
	Status  BuildStatus `json:"status"`
	Commit  string      `json:"commit,omitempty"`  // the git commit built, when it came from a push
	Trigger string      `json:"trigger,omitempty"` // upload or push
	Image   string      `json:"image,omitempty"`   // <registry>/<stack>:<id>
	Digest  string      `json:"digest,omitempty"`  // registry manifest digest
	Error   string      `json:"error,omitempty"`
	Pruned  bool        `json:"pruned,omitempty"` // its image was removed by retention
	// ReleaseYML is the source's release.yml, run before each release of
	// this build to a stage.
	ReleaseYML string     `json:"release_yml,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// ReleaseStatus is where a release is in its rollout.
type ReleaseStatus string

const (
	ReleasePending    ReleaseStatus = "pending"    // rolling out
	ReleaseActive     ReleaseStatus = "active"     // serving the stage
	ReleaseSuperseded ReleaseStatus = "superseded" // replaced by a newer release
	ReleaseFailed     ReleaseStatus = "failed"     // never became healthy
)

// Release is an image plus the stage config snapshot, rolled out to one
// stage. Releases are kept as the stage's history.
type Release struct {
	ID     string `json:"id"` // "r<seq>", unique per stack
	Stack  string `json:"stack"`
	Stage  string `json:"stage"`
	Build  string `json:"build"`
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"` // the image's manifest digest
	Commit string `json:"commit,omitempty"` // the commit built, for pushed builds
	// ConfigHash fingerprints the stage's config (spec, vars, secret
	// names): equal hashes, equal config.
	ConfigHash string        `json:"config_hash,omitempty"`
	Spec       StackSpec     `json:"spec"` // snapshot at release time
	Status     ReleaseStatus `json:"status"`
	Error      string        `json:"error,omitempty"`
	Trigger    string        `json:"trigger,omitempty"` // deploy, promote, approve, env or rollback
	// Vars (plain, over the spec's env) and Secrets (sealed; the API
	// shows them masked) are the stage's `env set` values when released.
	Vars      map[string]string `json:"vars,omitempty"`
	Secrets   map[string]string `json:"secrets,omitempty"`
	From      string            `json:"from,omitempty"` // the release a rollback restores
	CreatedAt time.Time         `json:"created_at"`
}
