package logstore

import "time"

// Line is a runtime entry: one line an instance wrote.
type Line struct {
	Time      time.Time `json:"time"`
	Instance  string    `json:"instance"`            // the container's name, as `slipway status` shows it
	Container string    `json:"container,omitempty"` // the container's ID
	Stream    string    `json:"stream"`              // stdout or stderr
	Text      string    `json:"line"`
}

// Streams of a runtime Line.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)
