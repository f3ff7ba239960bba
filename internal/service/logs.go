package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

// LogStore keeps the four logs (logstore.Store).
type LogStore interface {
	Append(k logstore.Key, t time.Time, v any) error
	Read(ctx context.Context, q logstore.Query, fn func(logstore.Entry) error) error
	Follow(ctx context.Context, q logstore.Query, fn func(logstore.Entry) error) error
	Remove(stack string) error
}

var _ LogStore = (*logstore.Store)(nil)

// LogQuery selects stored log entries of one kind.
type LogQuery struct {
	Kind   logstore.Kind
	Stage  string // "": every stage (runtime, release); builds have none
	Since  time.Time
	Until  time.Time
	Grep   string
	Tail   int
	Follow bool
}

// LogKeys checks a log query against the stack and returns the streams
// it reads: one stage's, or every stage's of the stack; the stack's own
// for builds. Access logs need a stage.
func (s *Service) LogKeys(ctx context.Context, stack string, q LogQuery) ([]logstore.Key, error) {
	if s.cfg.Logs == nil {
		return nil, core.Errorf(core.CodeUnavailable, "this server keeps no logs")
	}
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return nil, err
	}
	if q.Stage != "" {
		if _, ok := st.Spec.Stage(q.Stage); !ok {
			return nil, core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, q.Stage, stageNames(st.Spec))
		}
	}
	switch q.Kind {
	case logstore.Build:
		if q.Stage != "" {
			return nil, core.Errorf(core.CodeInvalid, "build logs are the stack's, not a stage's: `slipway logs %s --kind build`", stack)
		}
		return []logstore.Key{{Stack: stack, Kind: logstore.Build}}, nil
	case logstore.Access:
		if q.Stage == "" {
			return nil, core.Errorf(core.CodeInvalid, "access logs are per stage: give one, e.g. `slipway logs %s dev --kind access`", stack)
		}
	case logstore.Runtime, logstore.Release:
	default:
		return nil, core.Errorf(core.CodeInvalid, "invalid log kind %q: use runtime, build, release or access", q.Kind)
	}
	if q.Stage != "" {
		// A stage never released has run no instance: say so rather than
		// print nothing (a failed release's instances did run, and log).
		if q.Kind == logstore.Runtime {
			rels, err := s.cfg.Store.ListReleases(ctx, stack, q.Stage)
			if err != nil {
				return nil, err
			}
			if len(rels) == 0 {
				return nil, core.Errorf(core.CodeNotFound, "stage %s of stack %s has no instances (deploy it first with `slipway deploy`)", q.Stage, stack)
			}
		}
		return []logstore.Key{{Stack: stack, Stage: q.Stage, Kind: q.Kind}}, nil
	}
	keys := make([]logstore.Key, 0, len(st.Spec.Stages))
	for _, sg := range st.Spec.Stages {
		keys = append(keys, logstore.Key{Stack: stack, Stage: sg.Name, Kind: q.Kind})
	}
	return keys, nil
}

// ReadLogs calls fn with a stack's stored log entries, oldest first;
// with q.Follow, then with new ones until ctx ends. Bad queries fail
// before fn is first called.
func (s *Service) ReadLogs(ctx context.Context, stack string, q LogQuery, fn func(logstore.Entry) error) error {
	keys, err := s.LogKeys(ctx, stack, q)
	if err != nil {
		return err
	}
	lq := logstore.Query{Keys: keys, Since: q.Since, Until: q.Until, Grep: q.Grep, Tail: q.Tail}
	if q.Follow {
		return s.cfg.Logs.Follow(ctx, lq, fn)
	}
	return s.cfg.Logs.Read(ctx, lq, fn)
}

// AccessQuery selects access log lines.
type AccessQuery struct {
	Since time.Time
	Tail  int
	Grep  string
}

// AccessLogs writes a stage's access log lines (JSON), oldest first.
func (s *Service) AccessLogs(ctx context.Context, stack, stage string, q AccessQuery, w io.Writer) error {
	return s.ReadLogs(ctx, stack, LogQuery{Kind: logstore.Access, Stage: stage, Since: q.Since, Tail: q.Tail, Grep: q.Grep}, func(e logstore.Entry) error {
		_, err := w.Write(append(e.JSON, '\n'))
		return err
	})
}

// buildLog is where a build's events are stored: the stack's build log.
func (s *Service) buildLog(stack string) func(core.Event) {
	if s.cfg.Logs == nil {
		return func(core.Event) {}
	}
	k := logstore.Key{Stack: stack, Kind: logstore.Build}
	return func(ev core.Event) {
		if err := s.cfg.Logs.Append(k, ev.Time, ev); err != nil {
			s.log.Warn("store build log", "stack", stack, "err", err)
		}
	}
}

// releaseLog tees a release's events into its stage's release log, each
// tagged with the release, and returns the emit to use and a func that
// logs how the release ended.
func (s *Service) releaseLog(rel core.Release, emit func(core.Event)) (func(core.Event), func(error)) {
	if s.cfg.Logs == nil {
		return emit, func(error) {}
	}
	k := logstore.Key{Stack: rel.Stack, Stage: rel.Stage, Kind: logstore.Release}
	store := func(ev core.Event) {
		if ev.Release == "" {
			ev.Release = rel.ID
		}
		if ev.Build == "" {
			ev.Build = rel.Build
		}
		if err := s.cfg.Logs.Append(k, ev.Time, ev); err != nil {
			s.log.Warn("store release log", "stack", rel.Stack, "stage", rel.Stage, "err", err)
		}
	}
	tee := func(ev core.Event) {
		if ev.Time.IsZero() {
			ev.Time = time.Now().UTC()
		}
		store(ev)
		emit(ev)
	}
	end := func(err error) {
		ev := core.Event{Time: time.Now().UTC(), Type: core.EventDone, Stage: rel.Stage,
			Message: fmt.Sprintf("release %s of build %s serves stage %s", rel.ID, rel.Build, rel.Stage)}
		if err != nil {
			ev.Type, ev.Code, ev.Message = core.EventError, core.CodeOf(err), fmt.Sprintf("release %s failed: %v", rel.ID, err)
		}
		store(ev)
	}
	return tee, end
}

// replayBuild replays a finished build's events from the stack's build
// log.
func (s *Service) replayBuild(ctx context.Context, b core.Build, fn func(core.Event) error) error {
	if s.cfg.Logs == nil {
		return core.Errorf(core.CodeUnavailable, "this server keeps no logs")
	}
	tag := []byte(`"build":"` + b.ID + `"`)
	found := false
	err := s.cfg.Logs.Read(ctx, logstore.Query{
		Keys:  []logstore.Key{{Stack: b.Stack, Kind: logstore.Build}},
		Since: b.StartedAt.Add(-time.Minute), // its events start with it; a minute for clock steps
		Match: func(e logstore.Entry) bool { return bytes.Contains(e.JSON, tag) },
	}, func(e logstore.Entry) error {
		var ev core.Event
		if json.Unmarshal(e.JSON, &ev) != nil || ev.Build != b.ID {
			return nil
		}
		found = true
		return fn(ev)
	})
	if err == nil && !found {
		return core.Errorf(core.CodeNotFound, "build %s of %s has no log (the log store keeps logs for a limited time and size)", b.ID, b.Stack)
	}
	return err
}
