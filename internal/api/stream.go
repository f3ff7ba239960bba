package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// stream writes events as NDJSON, or as server-sent events when the
// client accepts text/event-stream, flushing after each one. Once the
// stream has started, failures travel as error events, not statuses.
func stream(w http.ResponseWriter, r *http.Request, status int, follow func(func(core.Event) error) error) error {
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	rc.Flush()
	err := follow(func(ev core.Event) error {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if sse {
			_, err = w.Write([]byte("event: " + string(ev.Type) + "\ndata: " + string(b) + "\n\n"))
		} else {
			_, err = w.Write(append(b, '\n'))
		}
		if err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && r.Context().Err() == nil {
		ev := core.Event{Type: core.EventError, Message: err.Error(), Code: core.CodeOf(err)}
		var de *core.Error
		if errors.As(err, &de) {
			ev.Details = de.Details
		}
		b, _ := json.Marshal(ev)
		if sse {
			w.Write([]byte("event: error\ndata: " + string(b) + "\n\n"))
		} else {
			w.Write(append(b, '\n'))
		}
	}
	return nil
}
