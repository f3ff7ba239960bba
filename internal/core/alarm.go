package core

import "time"

// AlarmState is where an alarm is, as in CloudWatch.
type AlarmState string

const (
	AlarmOK               AlarmState = "OK"
	AlarmAlarm            AlarmState = "ALARM"
	AlarmInsufficientData AlarmState = "INSUFFICIENT_DATA"
)

// AlarmKind says what an alarm watches: a metric threshold (made by a
// user) or one of the built-in alarms every stack has.
type AlarmKind string

const (
	AlarmMetric        AlarmKind = "metric"
	AlarmBuildFailed   AlarmKind = "build-failed"   // a stack's builds
	AlarmReleaseFailed AlarmKind = "release-failed" // a stage's releases
	AlarmCrashLoop     AlarmKind = "crash-loop"     // a stage's instances
)

// Alarm is an alarm's rule with its current state.
type Alarm struct {
	ID    string    `json:"id"` // "a<seq>" for metric alarms, "<kind>[-<stage>]" for built-in ones
	Name  string    `json:"name"`
	Stack string    `json:"stack"`
	Stage string    `json:"stage,omitempty"` // "" for a stack's build-failed alarm
	Kind  AlarmKind `json:"kind"`
	// Metric alarms: Metric Comparison Threshold, breached in For
	// consecutive periods of Period.
	Metric     string   `json:"metric,omitempty"`
	Comparison string   `json:"comparison,omitempty"` // above or below
	Threshold  float64  `json:"threshold"`
	Period     Duration `json:"period,omitempty"`
	For        int      `json:"for,omitempty"`
	// Notify are the webhook URLs told of state changes. API answers
	// carry them redacted (no user info, no query).
	Notify    []string    `json:"notify"`
	CreatedAt time.Time   `json:"created_at"`
	Status    AlarmStatus `json:"status"`
}

// BuiltIn reports whether the alarm is one every stack has.
func (a Alarm) BuiltIn() bool { return a.Kind != AlarmMetric }

// AlarmStatus is an alarm's evaluated state.
type AlarmStatus struct {
	State  AlarmState `json:"state"`
	Reason string     `json:"reason"`
	Since  time.Time  `json:"since"`
	// Seen is the newest build or release a built-in alarm has judged,
	// so each outcome counts once.
	Seen string `json:"seen,omitempty"`
}

// AlarmEventType classifies an alarm's history entries.
type AlarmEventType string

const (
	AlarmStateChange AlarmEventType = "state"        // the alarm changed state
	AlarmDelivery    AlarmEventType = "notification" // a webhook POST's outcome
)

// AlarmEvent is one entry of an alarm's history.
type AlarmEvent struct {
	Time  time.Time      `json:"time"`
	Stack string         `json:"stack"`
	Alarm string         `json:"alarm"` // ID
	Name  string         `json:"name"`
	Type  AlarmEventType `json:"type"`
	// State changes.
	From   AlarmState `json:"from,omitempty"`
	To     AlarmState `json:"to,omitempty"`
	Reason string     `json:"reason,omitempty"`
	// Deliveries: the URL (redacted), attempts made, the last HTTP
	// status or error, and whether a 2xx answered.
	URL       string `json:"url,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	HTTP      int    `json:"http_status,omitempty"`
	Error     string `json:"error,omitempty"`
	Delivered bool   `json:"delivered,omitempty"`
}

// StageFigures are a stage's current figures, as `slipway top` shows
// them; a nil figure has no data in the last periods.
type StageFigures struct {
	Stack        string   `json:"stack"`
	Stage        string   `json:"stage"`
	RequestsPerS float64  `json:"requests_per_s"`
	ErrorsPerS   float64  `json:"errors_per_s"` // 5xx
	ErrorPercent float64  `json:"error_percent"`
	P99MS        *float64 `json:"p99_ms"`
	CPUPercent   *float64 `json:"cpu_percent"`
	Instances    *float64 `json:"instances"`
}

// Top is every stage's current figures at one time.
type Top struct {
	Time   time.Time      `json:"time"`
	Period Duration       `json:"period"` // the figures are over the last Period
	Stages []StageFigures `json:"stages"`
}

// AlarmSpec is a metric alarm as a user asks for it; the alarms
// package validates it (Period is text like "1m" or "1d").
type AlarmSpec struct {
	Name       string   `json:"name,omitempty"`
	Stage      string   `json:"stage"`
	Metric     string   `json:"metric"`
	Comparison string   `json:"comparison"` // above or below
	Threshold  float64  `json:"threshold"`
	Period     string   `json:"period"`
	For        int      `json:"for"`
	Notify     []string `json:"notify"`
}
