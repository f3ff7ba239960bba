package core

import "time"

// StackStatus is a stack as a user sees it: its stages, what each one
// serves and where, and its instances.
type StackStatus struct {
	Name         string        `json:"name"`
	Architecture Architecture  `json:"architecture"`
	Stages       []StageStatus `json:"stages"`
	LastBuild    *Build        `json:"last_build,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// StageStatus is one stage of a stack.
type StageStatus struct {
	Name       string     `json:"name"`
	URL        string     `json:"url"`
	Status     string     `json:"status"`             // not-deployed, serving, unhealthy, deploying, CrashLooping
	Endpoint   string     `json:"endpoint,omitempty"` // gateway or balancer
	Release    *Release   `json:"release,omitempty"`
	Desired    int        `json:"desired"`
	RollingOut string     `json:"rolling_out,omitempty"`       // release being rolled out
	Awaiting   string     `json:"awaiting_approval,omitempty"` // build held until `slipway approve`
	Crash      *CrashInfo `json:"crash,omitempty"`
	Scale      *ScaleSpec `json:"scale,omitempty"`
	// Serverless is a serverless stage's settings (Scale is then nil).
	Serverless *ServerlessSpec `json:"serverless,omitempty"`
	// Routes are the stage's path routes to other stages (its spec's).
	Routes    []Route    `json:"routes,omitempty"`
	Instances []Instance `json:"instances"`
}

// StageRuntime is what the controller reports of a stage.
type StageRuntime struct {
	Desired    int
	RollingOut string
	Crash      *CrashInfo
}

// CrashInfo describes an instance's last crash.
type CrashInfo struct {
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
	ExitCode int       `json:"exit_code"`
	OOM      bool      `json:"oom_killed"`
	Crashes  int       `json:"crashes"` // consecutive, without turning healthy between
	Logs     []string  `json:"logs,omitempty"`
}

// StageEvent is something that happened to a stage: a scaling decision
// (with its inputs in Message), a rollout's start, swap or abort, an
// instance crash or replacement.
type StageEvent struct {
	Time    time.Time `json:"time"`
	Stack   string    `json:"stack"`
	Stage   string    `json:"stage"`
	Type    string    `json:"type"` // scale, rollout, instance
	Message string    `json:"message"`
}
