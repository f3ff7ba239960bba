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
	Name      string     `json:"name"`
	URL       string     `json:"url"`
	Status    string     `json:"status"` // not-deployed, serving, unhealthy, deploying
	Release   *Release   `json:"release,omitempty"`
	Instances []Instance `json:"instances"`
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
