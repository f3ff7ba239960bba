package alarm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Store is what alarms keep their rules, states and history in
// (store.Store).
type Store interface {
	GetStack(ctx context.Context, name string) (core.Stack, error)
	ListStacks(ctx context.Context) ([]core.Stack, error)
	NextSeq(ctx context.Context, stack, kind string) (int, error)
	PutAlarm(ctx context.Context, a core.Alarm) error
	ListAlarms(ctx context.Context, stack string) ([]core.Alarm, error)
	DeleteAlarm(ctx context.Context, stack, id string) error
	SetAlarmStatus(ctx context.Context, stack, id string, st core.AlarmStatus, ev *core.AlarmEvent) error
	AddAlarmEvent(ctx context.Context, ev core.AlarmEvent) error
	ListAlarmEvents(ctx context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error)
	SetAlarmWebhooks(ctx context.Context, stack string, urls []string) error
	AlarmWebhooks(ctx context.Context, stack string) ([]string, error)
}

// Query returns the points of a stage's metric in [from, to), each the
// metric aggregated over one step (the metrics store's Query).
type Query func(stack, stage, metric string, from, to time.Time, step time.Duration) []Point

// Observer reports what the built-in alarms judge (service.Service).
type Observer interface {
	List(ctx context.Context) ([]core.StackStatus, error)
	Builds(ctx context.Context, stack string) ([]core.Build, error)
	Releases(ctx context.Context, stack, stage string) ([]core.Release, error)
}

// Config configures a Manager.
type Config struct {
	Store    Store
	Query    Query    // nil until a metrics store is wired: metric alarms stay INSUFFICIENT_DATA
	Observer Observer // nil: no built-in alarms
	// Metrics are the names --metric may take (MetricNames if nil).
	Metrics []string
	// DefaultWebhooks are notified of every stack's built-in alarms
	// (server flag --alarm-webhook).
	DefaultWebhooks []string
	// DashboardURL is the API's base URL ("http://127.0.0.1:7070"); the
	// dashboard's pages are under /ui.
	DashboardURL string
	// Interval between evaluations (10 s); Settle is how long after a
	// period ends it is first judged (the metrics store's flush delay).
	Interval time.Duration
	Settle   time.Duration
	Client   *http.Client
	Backoff  []time.Duration // DefaultBackoff if nil
	Logger   *slog.Logger
}

// Manager creates, lists and deletes alarms, evaluates them (Run) and
// sends their notifications.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	notify *Notifier
}

// New returns a Manager; Run evaluates.
func New(cfg Config) *Manager {
	if cfg.Metrics == nil {
		cfg.Metrics = MetricNames
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("component", "alarms")}
	m.notify = &Notifier{Client: cfg.Client, Backoff: cfg.Backoff, Log: m.log, Record: m.recordDelivery}
	return m
}

// Create validates and stores a metric alarm; it starts as
// INSUFFICIENT_DATA and is judged at the next evaluation.
func (m *Manager) Create(ctx context.Context, stack string, spec core.AlarmSpec) (core.Alarm, error) {
	st, err := m.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return core.Alarm{}, err
	}
	a, err := Validate(spec, st, m.cfg.Metrics)
	if err != nil {
		return core.Alarm{}, err
	}
	n, err := m.cfg.Store.NextSeq(ctx, stack, "alarm")
	if err != nil {
		return core.Alarm{}, err
	}
	a.ID, a.CreatedAt = "a"+strconv.Itoa(n), time.Now().UTC()
	if err := m.cfg.Store.PutAlarm(ctx, a); err != nil {
		return core.Alarm{}, err
	}
	a.Status = core.AlarmStatus{State: core.AlarmInsufficientData, Reason: "not evaluated yet", Since: a.CreatedAt}
	if err := m.cfg.Store.SetAlarmStatus(ctx, stack, a.ID, a.Status, nil); err != nil {
		return core.Alarm{}, err
	}
	m.log.Info("alarm created", "stack", stack, "stage", a.Stage, "alarm", a.Name, "id", a.ID, "metric", a.Metric,
		"comparison", a.Comparison, "threshold", a.Threshold, "period", a.Period.String(), "for", a.For, "notify", RedactAll(a.Notify))
	a.Notify = RedactAll(a.Notify)
	return a, nil
}

// List returns a stack's alarms (every stack's if stack is ""), built-in
// ones included, with their webhooks redacted (a built-in alarm's are
// the default and the stack's).
func (m *Manager) List(ctx context.Context, stack string) ([]core.Alarm, error) {
	if stack != "" {
		if _, err := m.cfg.Store.GetStack(ctx, stack); err != nil {
			return nil, err
		}
	}
	if err := m.ensureBuiltins(ctx, stack); err != nil {
		return nil, err
	}
	all, err := m.cfg.Store.ListAlarms(ctx, stack)
	if err != nil {
		return nil, err
	}
	hooks := map[string][]string{}
	for i, a := range all {
		if a.BuiltIn() {
			if _, ok := hooks[a.Stack]; !ok {
				if hooks[a.Stack], err = m.targets(ctx, a); err != nil {
					return nil, err
				}
			}
			all[i].Notify = hooks[a.Stack]
		}
		all[i].Notify = RedactAll(all[i].Notify)
	}
	return all, nil
}

// History returns a stack's alarm history (one alarm's, by ID or name,
// if alarm is not ""), newest first.
func (m *Manager) History(ctx context.Context, stack, alarm string, limit int) ([]core.AlarmEvent, error) {
	id := ""
	if alarm != "" {
		a, err := m.find(ctx, stack, alarm)
		if err != nil {
			return nil, err
		}
		id = a.ID
	} else if _, err := m.cfg.Store.GetStack(ctx, stack); err != nil {
		return nil, err
	}
	return m.cfg.Store.ListAlarmEvents(ctx, stack, id, limit)
}

// Delete removes a metric alarm (by ID or name) with its history.
func (m *Manager) Delete(ctx context.Context, stack, alarm string) error {
	a, err := m.find(ctx, stack, alarm)
	if err != nil {
		return err
	}
	if a.BuiltIn() {
		return core.Errorf(core.CodeInvalid, "%s is a built-in alarm and cannot be deleted; to stop its notifications, clear the stack's webhooks with `slipway alarms notify %s --clear`", a.Name, stack)
	}
	if err := m.cfg.Store.DeleteAlarm(ctx, stack, a.ID); err != nil {
		return err
	}
	m.log.Info("alarm deleted", "stack", stack, "alarm", a.Name, "id", a.ID)
	return nil
}

// SetWebhooks sets the URLs a stack's built-in alarms notify (besides
// the server's default) and returns them redacted.
func (m *Manager) SetWebhooks(ctx context.Context, stack string, urls []string) ([]string, error) {
	if _, err := m.cfg.Store.GetStack(ctx, stack); err != nil {
		return nil, err
	}
	urls, err := ValidateWebhooks(urls)
	if err != nil {
		return nil, err
	}
	if err := m.cfg.Store.SetAlarmWebhooks(ctx, stack, urls); err != nil {
		return nil, err
	}
	m.log.Info("built-in alarm webhooks set", "stack", stack, "notify", RedactAll(urls))
	return RedactAll(urls), nil
}

// find returns a stack's alarm by ID or name.
func (m *Manager) find(ctx context.Context, stack, alarm string) (core.Alarm, error) {
	all, err := m.List(ctx, stack)
	if err != nil {
		return core.Alarm{}, err
	}
	for _, a := range all {
		if a.ID == alarm || a.Name == alarm {
			return a, nil
		}
	}
	return core.Alarm{}, core.Errorf(core.CodeNotFound, "stack %q has no alarm %q: see `slipway alarms list %s`", stack, alarm, stack)
}

// targets are the webhook URLs an alarm notifies, unredacted.
func (m *Manager) targets(ctx context.Context, a core.Alarm) ([]string, error) {
	if !a.BuiltIn() {
		return a.Notify, nil
	}
	stackHooks, err := m.cfg.Store.AlarmWebhooks(ctx, a.Stack)
	if err != nil {
		return nil, err
	}
	out := append([]string{}, m.cfg.DefaultWebhooks...)
	for _, u := range stackHooks {
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// dashboard is the page of the dashboard an alarm's notification links.
func (m *Manager) dashboard(a core.Alarm) string {
	base := m.cfg.DashboardURL + "/ui/stacks/" + url.PathEscape(a.Stack)
	switch {
	case a.Kind == core.AlarmBuildFailed:
		return base + "/builds"
	case a.Kind == core.AlarmCrashLoop:
		return base + "/stages/" + url.PathEscape(a.Stage) + "/logs"
	case a.Kind == core.AlarmReleaseFailed || a.Stage == "":
		return base
	}
	return base + "/stages/" + url.PathEscape(a.Stage) + "/charts"
}

func (m *Manager) recordDelivery(ev core.AlarmEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.AddAlarmEvent(ctx, ev); err != nil && !core.IsNotFound(err) {
		m.log.Warn("record alarm delivery", "stack", ev.Stack, "alarm", ev.Name, "err", fmt.Errorf("record delivery: %w", err))
	}
}
