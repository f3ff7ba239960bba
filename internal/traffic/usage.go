package traffic

import (
	"fmt"
	"math"
	"time"

	"github.com/slipwayhq/slipway/internal/cost"
)

// Point is one period's value of a metered series (the metrics store's
// telemetry.Point, or the dashboard's).
type Point struct {
	T time.Time
	V float64
}

// Metered is what the meters say about a stage over a window, as read
// from the metrics store (requests, p50_latency_ms and concurrency at one
// step) and, for sizes, a sample of the access log.
type Metered struct {
	Window      time.Duration
	Step        time.Duration // the series' period
	Requests    []Point       // per period (a counter)
	P50MS       []Point       // per period (a quantile)
	Concurrency []Point       // per period (requests in flight, averaged)
	// ResponseBytes is the mean response size of the access log sample
	// (Sampled entries); 0 entries: unknown.
	ResponseBytes float64
	Sampled       int
}

// Usage is Metered summed up.
type Usage struct {
	Window          time.Duration
	Requests        float64 // in the window
	DurationMS      float64 // request-weighted mean of the periods' medians
	MeanConcurrency float64
	PeakConcurrency float64
}

// Summarize sums up m: requests over the window, the mean duration (the
// store keeps per-period quantiles, not means, so it is the mean of the
// periods' medians weighted by their requests), and the mean (over the
// whole window, idle periods counting 0) and peak of the periods'
// concurrency.
func Summarize(m Metered) Usage {
	u := Usage{Window: m.Window}
	reqAt := map[int64]float64{}
	for _, p := range m.Requests {
		if finite(p.V) {
			u.Requests += p.V
			reqAt[p.T.UnixNano()] += p.V
		}
	}
	var weighted, weight float64
	for _, p := range m.P50MS {
		if w := reqAt[p.T.UnixNano()]; w > 0 && finite(p.V) {
			weighted += p.V * w
			weight += w
		}
	}
	if weight > 0 {
		u.DurationMS = weighted / weight
	}
	var sum float64
	for _, p := range m.Concurrency {
		if finite(p.V) {
			sum += p.V
			u.PeakConcurrency = math.Max(u.PeakConcurrency, p.V)
		}
	}
	if m.Step > 0 && m.Window > 0 {
		u.MeanConcurrency = sum / (float64(m.Window) / float64(m.Step))
	}
	return u
}

// FromUsage extrapolates a stage's metered usage to a month (Month over
// the window) as a profile, with notes saying so. Request sizes the
// meters do not keep come from the defaults; connection rates are left
// to the estimator to derive. It fails when the window saw no request.
func FromUsage(m Metered) (cost.Profile, []string, error) {
	u := Summarize(m)
	if u.Requests <= 0 {
		return cost.Profile{}, nil, fmt.Errorf("no requests metered in the last %s: send traffic first, or give --requests instead of --from-usage", FormatWindow(m.Window))
	}
	factor := float64(Month) / float64(m.Window)
	p := cost.Profile{
		RequestsPerMonth: u.Requests * factor,
		DurationMS:       u.DurationMS,
		RequestBytes:     DefaultRequestBytes,
		ResponseBytes:    DefaultResponseBytes,
		MeanConcurrency:  u.MeanConcurrency,
		PeakConcurrency:  u.PeakConcurrency,
	}
	notes := []string{fmt.Sprintf("from %s of metered usage: %s requests, extrapolated × %s to 30 days",
		FormatWindow(m.Window), formatFloat(u.Requests), formatFloat(factor))}
	if p.DurationMS <= 0 {
		p.DurationMS = DefaultDurationMS
		notes = append(notes, fmt.Sprintf("no latency metered: assuming %d ms per request", DefaultDurationMS))
	} else {
		notes = append(notes, fmt.Sprintf("mean duration %s ms: the periods' median latency, weighted by their requests", formatFloat(p.DurationMS)))
	}
	if m.Sampled > 0 {
		p.ResponseBytes = m.ResponseBytes
		notes = append(notes, fmt.Sprintf("mean response %s over the last %d access log entries; requests assumed %s",
			FormatBytes(m.ResponseBytes), m.Sampled, FormatBytes(DefaultRequestBytes)))
	} else {
		notes = append(notes, fmt.Sprintf("no access log: assuming %s per request and %s per response",
			FormatBytes(DefaultRequestBytes), FormatBytes(DefaultResponseBytes)))
	}
	if p.PeakConcurrency > 0 {
		notes = append(notes, fmt.Sprintf("concurrency metered: mean %s, peak %s (per %s)",
			formatFloat(p.MeanConcurrency), formatFloat(p.PeakConcurrency), FormatWindow(m.Step)))
	}
	return p, notes, nil
}

// UsageStep is the period to read a window's series at: 1 min up to 48 h
// (the store's fine resolution), 1 h beyond.
func UsageStep(window time.Duration) time.Duration {
	if window <= 48*time.Hour {
		return time.Minute
	}
	return time.Hour
}

// Window parses --from-usage: a duration from 1m to 90 days (the
// metrics' retention), e.g. 24h or 168h.
func Window(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute || d > 90*24*time.Hour {
		return 0, fmt.Errorf("invalid usage window %q: use a duration from 1m to 2160h (90 days), like 1h or 24h", s)
	}
	return d, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// FormatWindow prints a window briefly: 24h rather than 24h0m0s.
func FormatWindow(d time.Duration) string {
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}
