package logstore

import (
	"time"

	"github.com/slipwayhq/slipway/internal/jsonappend"
)

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

// appendJSON appends l as one JSON object and a newline, byte for byte
// what Append's encoder makes of it, without its reflection: the
// collector stores every line an instance writes, and an app that logs
// each request writes as many lines as it serves requests.
func (l *Line) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = l.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","instance":`...)
	b = jsonappend.String(b, l.Instance)
	if l.Container != "" {
		b = append(b, `,"container":`...)
		b = jsonappend.String(b, l.Container)
	}
	b = append(b, `,"stream":`...)
	b = jsonappend.String(b, l.Stream)
	b = append(b, `,"line":`...)
	b = jsonappend.String(b, l.Text)
	return append(b, "}\n"...)
}
