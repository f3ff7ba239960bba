package service

import "github.com/slipwayhq/slipway/internal/core"

// Outcome is a finished build or release, reported to Config.OnOutcome
// (metrics count them; alarms may watch them).
type Outcome struct {
	Stack   string
	Stage   string // "" for a build
	Build   string
	Release string // "" for a build
	// Succeeded: a build that produced its image, or a release that
	// became active. Failed, timed-out builds and failed releases are
	// not; superseded or interrupted ones are not reported.
	Succeeded bool
	Status    string // the build's or release's final status
	Error     string
}

// reportBuild tells OnOutcome of a build that succeeded, failed or timed out.
func (s *Service) reportBuild(b core.Build) {
	if s.cfg.OnOutcome == nil {
		return
	}
	switch b.Status {
	case core.BuildSucceeded, core.BuildFailed, core.BuildTimedOut:
		s.cfg.OnOutcome(Outcome{Stack: b.Stack, Build: b.ID, Succeeded: b.Status == core.BuildSucceeded, Status: string(b.Status), Error: b.Error})
	}
}

// reportRelease tells OnOutcome of a release that became active or failed.
func (s *Service) reportRelease(rel core.Release) {
	if s.cfg.OnOutcome == nil {
		return
	}
	switch rel.Status {
	case core.ReleaseActive, core.ReleaseFailed:
		s.cfg.OnOutcome(Outcome{Stack: rel.Stack, Stage: rel.Stage, Build: rel.Build, Release: rel.ID,
			Succeeded: rel.Status == core.ReleaseActive, Status: string(rel.Status), Error: rel.Error})
	}
}
