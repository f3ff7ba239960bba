package traffic

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/cost"
)

// Defaults for the figures a profile leaves out. They describe a small
// web API; every one is named in the estimate's notes when it is used.
const (
	DefaultRequests      = 1_000_000 // per month
	DefaultDurationMS    = 100       // mean request duration
	DefaultRequestBytes  = 1 << 10   // 1 KB
	DefaultResponseBytes = 10 << 10  // 10 KB
	// MaxDurationMS bounds a request's duration (15 min, Lambda's limit).
	MaxDurationMS = 15 * 60 * 1000
)

// Month is the period a profile covers: 30 days, as AWS's monthly
// estimates assume.
const Month = 30 * 24 * time.Hour

// Flags are a profile's figures as typed by a user (CLI flags, query
// parameters); "" means the default.
type Flags struct {
	Requests          string // per month: 10M, 1.5k, 2B, 1000000
	Duration          string // mean: 120ms, 1.2s, or a number of ms
	RequestBytes      string // mean: 512, 1KB, 2MB
	ResponseBytes     string // mean
	PeakConcurrency   string // requests in flight at the peak
	NewConnections    string // per second
	ActiveConnections string // per minute
}

// Given reports whether any figure is set.
func (f Flags) Given() bool { return f != Flags{} }

// FromFlags builds a profile from f, filling requests, duration and
// sizes f leaves out with the defaults. Concurrency and connection rates
// f leaves out stay 0: the estimator derives them from requests and
// duration and says how in its assumptions (one policy, in one place).
// Notes say which defaults were used, one per line.
func FromFlags(f Flags) (cost.Profile, []string, error) {
	var p cost.Profile
	var notes []string
	var err error
	p.RequestsPerMonth = DefaultRequests
	if f.Requests != "" {
		if p.RequestsPerMonth, err = count("requests", f.Requests); err != nil {
			return p, nil, err
		}
	} else {
		notes = append(notes, fmt.Sprintf("assuming %s requests/month (the default; set --requests)", FormatCount(DefaultRequests)))
	}
	p.DurationMS = DefaultDurationMS
	if f.Duration != "" {
		if p.DurationMS, err = DurationMS(f.Duration); err != nil {
			return p, nil, err
		}
	} else {
		notes = append(notes, fmt.Sprintf("assuming a mean request duration of %d ms (the default; set --duration)", DefaultDurationMS))
	}
	p.RequestBytes, p.ResponseBytes = DefaultRequestBytes, DefaultResponseBytes
	if f.RequestBytes != "" {
		if p.RequestBytes, err = Bytes("request bytes", f.RequestBytes); err != nil {
			return p, nil, err
		}
	}
	if f.ResponseBytes != "" {
		if p.ResponseBytes, err = Bytes("response bytes", f.ResponseBytes); err != nil {
			return p, nil, err
		}
	}
	if f.RequestBytes == "" || f.ResponseBytes == "" {
		notes = append(notes, fmt.Sprintf("assuming %s per request and %s per response (defaults unless set)",
			FormatBytes(p.RequestBytes), FormatBytes(p.ResponseBytes)))
	}
	if f.PeakConcurrency != "" {
		if p.PeakConcurrency, err = count("peak concurrency", f.PeakConcurrency); err != nil {
			return p, nil, err
		}
	}
	if f.NewConnections != "" {
		if p.NewConnectionsPerSecond, err = count("new connections", f.NewConnections); err != nil {
			return p, nil, err
		}
	}
	if f.ActiveConnections != "" {
		if p.ActiveConnectionsPerMinute, err = count("active connections", f.ActiveConnections); err != nil {
			return p, nil, err
		}
	}
	return p, notes, nil
}

func count(what, s string) (float64, error) {
	v, err := cost.ParseCount(strings.TrimSpace(s))
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("invalid %s %q: use a count like 10M, 1.5k, 2B or 1000000", what, s)
	}
	return v, nil
}

// DurationMS parses a mean request duration: a Go duration (120ms, 1.2s)
// or a plain number of milliseconds; more than 0 and at most 15 min.
func DurationMS(s string) (float64, error) {
	s = strings.TrimSpace(s)
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, fmt.Errorf("invalid duration %q: use a duration like 120ms or 1.2s", s)
		}
		ms = float64(d) / float64(time.Millisecond)
	}
	if !(ms > 0) || ms > MaxDurationMS {
		return 0, fmt.Errorf("invalid duration %q: it must be more than 0 and at most 15m", s)
	}
	return ms, nil
}

// Bytes parses a size: a number of bytes, or with a unit KB, MB or GB
// (powers of 1024; KiB, MiB, GiB and k, M, G too).
func Bytes(what, s string) (float64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("invalid %s %q: use a size like 512, 4KB or 2MB", what, s)
	}
	return v * mult, nil
}

// FormatCount prints a count briefly: 950, 1.5k, 10M, 2B.
func FormatCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return formatFloat(v/1e9) + "B"
	case a >= 1e6:
		return formatFloat(v/1e6) + "M"
	case a >= 1e3:
		return formatFloat(v/1e3) + "k"
	}
	return formatFloat(v)
}

// FormatBytes prints a size: 512 B, 1 KB, 10 KB, 1.5 MB.
func FormatBytes(v float64) string {
	switch {
	case v >= 1<<30:
		return formatFloat(v/(1<<30)) + " GB"
	case v >= 1<<20:
		return formatFloat(v/(1<<20)) + " MB"
	case v >= 1<<10:
		return formatFloat(v/(1<<10)) + " KB"
	}
	return formatFloat(v) + " B"
}

// formatFloat prints v briefly: 3 decimals under 10, 1 under 100, none
// above, without trailing zeros; a value under 0.001 other than 0 keeps
// two significant digits, so a trickle does not read as 0.
func formatFloat(v float64) string {
	p := 3
	if a := math.Abs(v); a > 0 && a < 0.001 {
		return strconv.FormatFloat(v, 'f', 1-int(math.Floor(math.Log10(a))), 64)
	}
	if math.Abs(v) >= 100 {
		p = 0
	} else if math.Abs(v) >= 10 {
		p = 1
	}
	scale := math.Pow(10, float64(p))
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}
