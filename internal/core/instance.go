package core

// Labels Slipway puts on everything it creates in the container runtime.
// Adoption after a restart relies on them alone.
const (
	LabelManaged   = "io.slipway.managed" // "true"
	LabelNamespace = "io.slipway.namespace"
	LabelServer    = "io.slipway.server" // a server's ID, kept in its state.db
	LabelStack     = "io.slipway.stack"
	LabelStage     = "io.slipway.stage"
	LabelRelease   = "io.slipway.release"
	// LabelTask marks a build container (build.image), with LabelServer,
	// LabelStack and LabelBuild; it is never an instance.
	LabelTask  = "io.slipway.task"
	LabelBuild = "io.slipway.build"
)

// Instance is one running container of a stage, as observed.
type Instance struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Stack    string  `json:"stack"`
	Stage    string  `json:"stage"`
	Release  string  `json:"release"`
	State    string  `json:"state"` // runtime state: created, running, exited, ...
	Addr     string  `json:"addr,omitempty"`
	Healthy  bool    `json:"healthy"`
	ExitCode int     `json:"exit_code,omitempty"`
	OOM      bool    `json:"oom_killed,omitempty"`
	Crashes  int     `json:"crashes,omitempty"`
	CPU      float64 `json:"cpu_percent,omitempty"` // of its vCPU, last sample
}
