package core

import "time"

// EventType classifies a progress event of a build or deploy.
type EventType string

const (
	EventStep  EventType = "step"  // a new step starts (buildspec phase, Dockerfile step, push, rollout)
	EventLog   EventType = "log"   // a line of output from the current step
	EventError EventType = "error" // the job failed; Message says why, Details has the last log lines
	EventDone  EventType = "done"  // the job succeeded; URL is where the stage serves
)

// Event is one line of a build or deploy's progress, streamed to clients
// as NDJSON or SSE and kept in the build's log.
type Event struct {
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	Message string    `json:"message,omitempty"`
	Details []string  `json:"details,omitempty"`
	Code    Code      `json:"code,omitempty"` // with EventError
	Build   string    `json:"build,omitempty"`
	Release string    `json:"release,omitempty"`
	Stage   string    `json:"stage,omitempty"`
	URL     string    `json:"url,omitempty"`
}
