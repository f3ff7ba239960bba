package store

import (
	"context"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Store is Slipway's state. Methods return core errors: CodeNotFound for
// unknown records and CodeConflict for name clashes.
type Store interface {
	// Tx runs fn with a Store bound to one transaction: everything fn does
	// commits together or not at all. Nested Tx calls join the outer one.
	Tx(ctx context.Context, fn func(Store) error) error

	CreateStack(ctx context.Context, s core.Stack) error
	GetStack(ctx context.Context, name string) (core.Stack, error)
	ListStacks(ctx context.Context) ([]core.Stack, error)
	UpdateStack(ctx context.Context, s core.Stack) error
	// DeleteStack removes a stack with its builds, releases, stages,
	// events and usage.
	DeleteStack(ctx context.Context, name string) error

	// NextSeq returns the next number of a per-stack sequence ("build",
	// "release"), starting at 1. Numbers are never reused, even after a
	// stack is deleted and created again with the same name.
	NextSeq(ctx context.Context, stack, kind string) (int, error)

	PutBuild(ctx context.Context, b core.Build) error
	GetBuild(ctx context.Context, stack, id string) (core.Build, error)
	// ListBuilds returns a stack's builds, newest first.
	ListBuilds(ctx context.Context, stack string) ([]core.Build, error)

	PutRelease(ctx context.Context, r core.Release) error
	GetRelease(ctx context.Context, stack, id string) (core.Release, error)
	// ListReleases returns a stage's releases (all stages if stage is
	// ""), newest first.
	ListReleases(ctx context.Context, stack, stage string) ([]core.Release, error)

	// SetStageRelease records the release a stage serves.
	SetStageRelease(ctx context.Context, stack, stage, release string) error
	// StageReleases returns what every stage of every stack serves.
	StageReleases(ctx context.Context) ([]StageRelease, error)

	// AddEvent records something that happened to a stage (a scaling
	// decision with its inputs, a rollout step, a crash).
	AddEvent(ctx context.Context, e core.StageEvent) error
	// ListEvents returns a stage's events, newest first, at most limit.
	ListEvents(ctx context.Context, stack, stage string, limit int) ([]core.StageEvent, error)

	// AddUsage merges each bucket into the stored one for its stack,
	// stage and minute (Minute taken in UTC, truncated to the minute),
	// creating it if absent, as core.UsageBucket.Merge does: counts
	// summed, MaxMS the larger, histograms added element-wise. All
	// buckets commit together or not at all.
	AddUsage(ctx context.Context, buckets []core.UsageBucket) error
	// ListUsage returns a stage's buckets (every stage's if stage is "")
	// whose minute is in [since, until), oldest first; for one minute,
	// by stage.
	ListUsage(ctx context.Context, stack, stage string, since, until time.Time) ([]core.UsageBucket, error)
	// DeleteUsageBefore removes every stack's buckets whose minute is
	// before before, for retention, and returns how many it removed.
	DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error)

	// PutAPIKey creates or replaces a gateway API key (by stack and ID).
	// A key whose Hash another key has is CodeConflict.
	PutAPIKey(ctx context.Context, k core.APIKey) error
	// ListAPIKeys returns the keys of a stage (every stage's if stage is
	// "", every stack's if stack is ""), oldest first.
	ListAPIKeys(ctx context.Context, stack, stage string) ([]core.APIKey, error)
	// DeleteAPIKey removes a key (CodeNotFound if it has none by that ID).
	DeleteAPIKey(ctx context.Context, stack, id string) error

	// PutDomain routes a custom domain to a stage. A domain another
	// stage has is CodeConflict.
	PutDomain(ctx context.Context, d core.Domain) error
	// ListDomains returns a stack's domains (every stack's if stack is
	// ""), by name.
	ListDomains(ctx context.Context, stack string) ([]core.Domain, error)
	// DeleteDomain removes a domain (CodeNotFound if unknown).
	DeleteDomain(ctx context.Context, name string) error

	// AddQuotaUse adds n requests to an API key's count for the quota
	// period starting at periodStart (UTC) and returns the new total.
	// Counts of periods that ended are not needed and may be pruned.
	AddQuotaUse(ctx context.Context, keyID string, periodStart time.Time, n int64) (int64, error)

	// PutAlarm creates or replaces an alarm's rule (by stack and ID),
	// keeping its status. A name another alarm of the stack has is
	// CodeConflict.
	PutAlarm(ctx context.Context, a core.Alarm) error
	// ListAlarms returns a stack's alarms (every stack's if stack is ""),
	// with their status, by stack then creation.
	ListAlarms(ctx context.Context, stack string) ([]core.Alarm, error)
	// DeleteAlarm removes an alarm with its status and history
	// (CodeNotFound if unknown).
	DeleteAlarm(ctx context.Context, stack, id string) error
	// SetAlarmStatus records an alarm's status and, with it, an event of
	// its history (if ev is not nil). CodeNotFound if the alarm is gone.
	SetAlarmStatus(ctx context.Context, stack, id string, st core.AlarmStatus, ev *core.AlarmEvent) error
	// AddAlarmEvent appends to an alarm's history (CodeNotFound if gone).
	AddAlarmEvent(ctx context.Context, ev core.AlarmEvent) error
	// ListAlarmEvents returns a stack's alarm history (one alarm's if
	// alarm is not ""), newest first, at most limit.
	ListAlarmEvents(ctx context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error)
	// SetAlarmWebhooks sets the URLs a stack's built-in alarms notify
	// (none: clears them); AlarmWebhooks reads them.
	SetAlarmWebhooks(ctx context.Context, stack string, urls []string) error
	AlarmWebhooks(ctx context.Context, stack string) ([]string, error)

	// GetSetting returns a server setting ("" and CodeNotFound if unset).
	GetSetting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error

	Close() error
}

// StageRelease says which release a stage serves.
type StageRelease struct {
	Stack   string `json:"stack"`
	Stage   string `json:"stage"`
	Release string `json:"release"`
}
