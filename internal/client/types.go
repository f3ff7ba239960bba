package client

import "github.com/slipwayhq/slipway/internal/core"

// The API's types, re-exported so the CLI needs no other package.
type (
	Event       = core.Event
	StackStatus = core.StackStatus
	StageStatus = core.StageStatus
	Build       = core.Build
	Release     = core.Release
	Usage       = core.Usage
)

// Event types a deploy streams.
const (
	EventStep  = core.EventStep
	EventLog   = core.EventLog
	EventError = core.EventError
	EventDone  = core.EventDone
)
