package alarm

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// MetricNames are the metric store's stable names (the telemetry
// contract), used to validate --metric when the server gives no list.
var MetricNames = []string{
	"requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "errors",
	"p50_latency_ms", "p90_latency_ms", "p99_latency_ms", "cpu_percent", "memory_mb", "instances",
	"cold_starts", "concurrency", "throttles", "gb_seconds",
	"builds_succeeded", "builds_failed", "releases_succeeded", "releases_failed",
}

// Limits of a metric alarm.
const (
	MinPeriod  = 10 * time.Second
	MaxPeriod  = 24 * time.Hour
	MaxFor     = 100
	MaxRange   = 7 * 24 * time.Hour // For × Period, as CloudWatch's evaluation range
	MaxWebhook = 5
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62})$`)

// ParsePeriod reads a period: a Go duration ("30s", "5m", "1h") or whole
// days ("1d"), from 10 s to 1 day, a multiple of 10 s.
func ParsePeriod(s string) (time.Duration, error) {
	bad := func() error {
		return core.Errorf(core.CodeInvalid, "invalid period %q: use 10s to 1d in multiples of 10s, e.g. 10s, 1m, 5m, 1h or 1d", s)
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, bad()
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(s)); err != nil {
			return 0, bad()
		}
	}
	if d < MinPeriod || d > MaxPeriod || d%(10*time.Second) != 0 {
		return 0, bad()
	}
	return d, nil
}

// Validate checks a metric alarm's spec against the stack (whose stages
// it may name) and the known metrics, and returns the alarm it makes
// (without ID, creation time or status). Errors are CodeInvalid, one
// line, and say what is allowed.
func Validate(spec core.AlarmSpec, stack core.Stack, metrics []string) (core.Alarm, error) {
	if _, ok := stack.Spec.Stage(spec.Stage); !ok {
		var names []string
		for _, st := range stack.Spec.Stages {
			names = append(names, st.Name)
		}
		if len(names) == 0 {
			return core.Alarm{}, core.Errorf(core.CodeInvalid, "stack %q has no stage %q: it has no stages yet (deploy it first)", stack.Name, spec.Stage)
		}
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "stack %q has no stage %q: use one of %s", stack.Name, spec.Stage, strings.Join(names, ", "))
	}
	if !contains(metrics, spec.Metric) {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "unknown metric %q: use one of %s", spec.Metric, strings.Join(metrics, ", "))
	}
	if spec.Comparison != "above" && spec.Comparison != "below" {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "invalid comparison %q: use above or below", spec.Comparison)
	}
	if math.IsNaN(spec.Threshold) || math.IsInf(spec.Threshold, 0) {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "invalid threshold %v: use a finite number", spec.Threshold)
	}
	period, err := ParsePeriod(spec.Period)
	if err != nil {
		return core.Alarm{}, err
	}
	if spec.For < 1 || spec.For > MaxFor {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "invalid evaluation periods (--for) %d: use 1 to %d consecutive periods", spec.For, MaxFor)
	}
	if time.Duration(spec.For)*period > MaxRange {
		return core.Alarm{}, core.Errorf(core.CodeInvalid, "--for %d × --period %s is %s: keep the evaluation range within 7 days", spec.For, period, time.Duration(spec.For)*period)
	}
	notify, err := ValidateWebhooks(spec.Notify)
	if err != nil {
		return core.Alarm{}, err
	}
	name := spec.Name
	if name == "" {
		name = fmt.Sprintf("%s-%s-%s-%s", spec.Stage, spec.Metric, spec.Comparison, strconv.FormatFloat(spec.Threshold, 'f', -1, 64))
	}
	if err := validateName(name); err != nil {
		return core.Alarm{}, err
	}
	return core.Alarm{Name: name, Stack: stack.Name, Stage: spec.Stage, Kind: core.AlarmMetric, Metric: spec.Metric,
		Comparison: spec.Comparison, Threshold: spec.Threshold, Period: core.Duration(period), For: spec.For, Notify: notify}, nil
}

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return core.Errorf(core.CodeInvalid, "invalid alarm name %q: use 1-63 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	if builtinName(name) || idRE.MatchString(name) {
		return core.Errorf(core.CodeInvalid, "alarm name %q is reserved (built-in alarms are build-failed, release-failed-<stage> and crash-loop-<stage>; IDs are a<number>): pick another --name", name)
	}
	return nil
}

var idRE = regexp.MustCompile(`^a[0-9]+$`)

func builtinName(name string) bool {
	return name == string(core.AlarmBuildFailed) || strings.HasPrefix(name, string(core.AlarmReleaseFailed)+"-") || strings.HasPrefix(name, string(core.AlarmCrashLoop)+"-")
}

// ValidateWebhooks checks webhook URLs: at most 5, each http or https
// with a host. Errors show the URL redacted.
func ValidateWebhooks(urls []string) ([]string, error) {
	if len(urls) > MaxWebhook {
		return nil, core.Errorf(core.CodeInvalid, "%d webhooks: use at most %d", len(urls), MaxWebhook)
	}
	out := []string{}
	for _, raw := range urls {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, core.Errorf(core.CodeInvalid, "invalid webhook URL %q: use an http:// or https:// URL with a host", Redact(raw))
		}
		if !contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

// Redact returns a URL fit to show or log: user info and query are
// replaced by "redacted", the fragment dropped. Text that does not parse
// as a URL is redacted whole.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(redacted URL)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "redacted", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// RedactAll redacts each URL.
func RedactAll(urls []string) []string {
	out := make([]string, 0, len(urls))
	for _, u := range urls {
		out = append(out, Redact(u))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
