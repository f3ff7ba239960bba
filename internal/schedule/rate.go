package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// rateAnchor is the instant every rate schedule counts from. EventBridge
// counts from the moment the rule is created, which a local runner cannot
// know and would lose on restart; counting from the Unix epoch instead
// makes rate(1 hour) fire on the hour, rate(1 day) at 00:00 UTC, and keeps
// ticks stable across restarts.
var rateAnchor = time.Unix(0, 0).UTC()

// maxRateValue bounds the value; the docs only say "a positive number".
// 2^31-1 keeps the tick arithmetic exact in int64 seconds for every unit.
const maxRateValue = math.MaxInt32

type rateUnit struct {
	singular, plural string
	seconds          int64
}

var rateUnits = []rateUnit{
	{"minute", "minutes", 60},
	{"hour", "hours", 3600},
	{"day", "days", 86400},
}

// rate fires every period seconds, counted from rateAnchor.
type rate struct {
	value  int64
	unit   rateUnit
	period int64 // seconds
}

var _ Schedule = (*rate)(nil)

func parseRate(body string) (*rate, error) {
	parts := strings.Fields(body)
	if len(parts) != 2 {
		return nil, fmt.Errorf(`rate needs a value and a unit, e.g. "rate(5 minutes)"`)
	}
	valueText, unitText := parts[0], strings.ToLower(parts[1])
	if !isDigits(valueText) {
		return nil, fmt.Errorf(`rate value %q is not a whole number; use a positive integer, e.g. "rate(5 minutes)"`, valueText)
	}
	value, err := strconv.ParseInt(valueText, 10, 64)
	if err != nil || value > maxRateValue {
		return nil, fmt.Errorf("rate value %s is too large; use at most %d", valueText, maxRateValue)
	}
	if value == 0 {
		return nil, fmt.Errorf(`rate value must be positive; use 1 or more, e.g. "rate(1 minute)"`)
	}
	for _, u := range rateUnits {
		switch {
		case unitText == u.singular && value != 1:
			return nil, fmt.Errorf(`use the plural unit with a value above 1, e.g. "rate(%d %s)"`, value, u.plural)
		case unitText == u.plural && value == 1:
			return nil, fmt.Errorf(`use the singular unit with a value of 1, e.g. "rate(1 %s)"`, u.singular)
		case unitText == u.singular || unitText == u.plural:
			return &rate{value: value, unit: u, period: value * u.seconds}, nil
		}
	}
	return nil, fmt.Errorf("unknown rate unit %q; use minute, minutes, hour, hours, day or days", parts[1])
}

func (r *rate) String() string {
	unit := r.unit.plural
	if r.value == 1 {
		unit = r.unit.singular
	}
	return fmt.Sprintf("rate(%d %s)", r.value, unit)
}

// Next returns the first tick rateAnchor + k*period strictly after after.
func (r *rate) Next(after time.Time) time.Time {
	// Ticks are whole seconds, so "after after" is "after its whole second".
	s := after.Unix() - rateAnchor.Unix()
	q := s / r.period
	if s%r.period < 0 {
		q-- // floor division for instants before the anchor
	}
	if q >= math.MaxInt64/r.period-1 {
		return time.Time{} // beyond anything time.Time can sensibly hold
	}
	return time.Unix(rateAnchor.Unix()+(q+1)*r.period, 0).UTC()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
