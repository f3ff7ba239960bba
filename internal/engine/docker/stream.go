package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// streamMessage is one record of the JSON message stream Docker sends for
// builds and pushes. It is declared here rather than taken from the API
// module because that type dropped the legacy top-level "error" string,
// which some daemons send without an errorDetail.
type streamMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// errorMessage returns the failure this record reports, or "".
func (m *streamMessage) errorMessage() string {
	if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
		return oneLine(m.ErrorDetail.Message)
	}
	return oneLine(m.Error)
}

// decodeStream calls handle for each record of a JSON message stream
// until EOF. A stream cut short is an error.
func decodeStream(r io.Reader, handle func(*streamMessage) error) error {
	dec := json.NewDecoder(r)
	for {
		var m streamMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read message stream: %w", err)
		}
		if err := handle(&m); err != nil {
			return err
		}
	}
}

// lineSplitter reassembles complete lines from the "stream" chunks of a
// build: the daemon forwards RUN output as it comes, so a chunk can hold
// several lines or part of one.
type lineSplitter struct {
	pending strings.Builder
	emit    func(string)
}

// write adds a chunk and emits every line it completes.
func (s *lineSplitter) write(chunk string) {
	for {
		i := strings.IndexByte(chunk, '\n')
		if i < 0 {
			s.pending.WriteString(chunk)
			return
		}
		s.pending.WriteString(chunk[:i])
		chunk = chunk[i+1:]
		s.flush()
	}
}

// flush emits the partial line held, if any. Blank lines are dropped.
func (s *lineSplitter) flush() {
	line := strings.TrimRight(s.pending.String(), "\r")
	s.pending.Reset()
	if strings.TrimSpace(line) != "" {
		s.emit(line)
	}
}

// statusDeduper turns status records ("Pushing", "Pushed", ...) into
// progress lines, once per change of status for each layer rather than
// once per byte-count update.
type statusDeduper struct {
	last map[string]string
}

// line returns the progress line for m and whether it is new.
func (s *statusDeduper) line(m *streamMessage) (string, bool) {
	status := strings.TrimSpace(m.Status)
	if status == "" {
		return "", false
	}
	if s.last == nil {
		s.last = make(map[string]string)
	}
	if prev, seen := s.last[m.ID]; seen && prev == status {
		return "", false
	}
	s.last[m.ID] = status
	if m.ID == "" {
		return status, true
	}
	return m.ID + ": " + status, true
}
