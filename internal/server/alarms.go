package server

import (
	"log/slog"
	"time"

	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
	"github.com/slipwayhq/slipway/internal/telemetry"
	"github.com/slipwayhq/slipway/internal/telemetry/alarm"
	"github.com/slipwayhq/slipway/internal/telemetry/top"
)

// metricsQuery is what alarms and `slipway top` read of the metrics
// store (telemetry.Store).
type metricsQuery interface {
	Query(k telemetry.Key, from, to time.Time, step time.Duration) []telemetry.Point
}

var _ metricsQuery = (*telemetry.Store)(nil)

// alarmSettle is how long after a 10 s period ends an alarm first judges
// it: the metrics store closes a period 50 ms after its end.
const alarmSettle = 5 * time.Second

// newAlarms returns the alarms (evaluated by its Run) and the current
// figures, both reading metrics (nil: none yet, so metric alarms stay
// INSUFFICIENT_DATA and top shows no figures). apiURL is the dashboard's
// base for notification links.
func newAlarms(cfg Config, st *sqlite.Store, svc *service.Service, metrics metricsQuery, apiURL string, log *slog.Logger) (*alarm.Manager, *top.Top) {
	names := []string{}
	for _, m := range telemetry.Metrics() {
		names = append(names, m.Name)
	}
	acfg := alarm.Config{Store: st, Observer: svc, Metrics: names, DefaultWebhooks: cfg.AlarmWebhooks,
		DashboardURL: apiURL, Settle: alarmSettle, Logger: log}
	tp := &top.Top{Stacks: svc}
	if metrics != nil {
		acfg.Query = func(stack, stage, metric string, from, to time.Time, step time.Duration) []alarm.Point {
			var out []alarm.Point
			for _, p := range metrics.Query(metricKey(stack, stage, metric), from, to, step) {
				out = append(out, alarm.Point{T: p.T, V: p.V})
			}
			return out
		}
		tp.Query = func(stack, stage, metric string, from, to time.Time) []top.Point {
			var out []top.Point
			for _, p := range metrics.Query(metricKey(stack, stage, metric), from, to, 0) {
				out = append(out, top.Point{T: p.T, V: p.V})
			}
			return out
		}
	}
	return alarm.New(acfg), tp
}

// metricKey is a stage's series of a metric; builds are the stack's.
func metricKey(stack, stage, metric string) telemetry.Key {
	if metric == telemetry.BuildsSucceeded || metric == telemetry.BuildsFailed {
		stage = ""
	}
	return telemetry.Key{Stack: stack, Stage: stage, Metric: metric}
}
