package schedule

import (
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// cron fires at every minute whose fields all match.
type cron struct {
	expr    string // normalized
	minutes uint64 // bit m for minute m
	hours   uint64 // bit h for hour h
	months  uint64 // bit m-1 for month m
	years   set    // bit y-1970 for year y
	day     dayRule
}

var _ Schedule = (*cron)(nil)

// firstInstant is the earliest instant a cron schedule can fire at.
var firstInstant = time.Date(yearField.min, 1, 1, 0, 0, 0, 0, time.UTC)

func parseCron(body string) (*cron, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf(`cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d; e.g. "cron(0 12 * * ? *)"`, len(f))
	}
	c := &cron{}
	norm := make([]string, 6)
	var vals set
	var err error
	if vals, norm[0], err = minutesField.parseList(f[0]); err != nil {
		return nil, err
	}
	c.minutes = vals[0]
	if vals, norm[1], err = hoursField.parseList(f[1]); err != nil {
		return nil, err
	}
	c.hours = vals[0]
	switch domAny, dowAny := f[2] == "?", f[4] == "?"; {
	case domAny && dowAny:
		return nil, fmt.Errorf(`day-of-month and day-of-week cannot both be ?; set one of them, e.g. "cron(%s)"`, suggest(f, 2, "*"))
	case !domAny && !dowAny:
		fix := 4 // keep the day-of-month unless it is the one that says nothing
		if f[4] != "*" && f[2] == "*" {
			fix = 2
		}
		return nil, fmt.Errorf(`day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. "cron(%s)"`, suggest(f, fix, "?"))
	case dowAny:
		c.day, norm[2], err = parseDayOfMonth(f[2])
		norm[4] = "?"
	default:
		c.day, norm[4], err = parseDayOfWeek(f[4])
		norm[2] = "?"
	}
	if err != nil {
		return nil, err
	}
	if vals, norm[3], err = monthField.parseList(f[3]); err != nil {
		return nil, err
	}
	c.months = vals[0]
	if c.years, norm[5], err = yearField.parseList(f[5]); err != nil {
		return nil, err
	}
	c.expr = "cron(" + strings.Join(norm, " ") + ")"
	// One full search over 1970-2199 costs at most 2,760 month steps.
	if c.Next(time.Time{}).IsZero() {
		return nil, fmt.Errorf("it never fires: no date in the chosen months and years has the chosen day (e.g. there is no February 30th); pick days that exist in those months")
	}
	return c, nil
}

// suggest returns the fields with field i replaced, for error hints.
func suggest(fields []string, i int, with string) string {
	out := append([]string(nil), fields...)
	out[i] = with
	return strings.Join(out, " ")
}

func (c *cron) String() string { return c.expr }

// Next returns the first matching minute strictly after after, or the zero
// time when none is left before the end of 2199 (or of the year field).
func (c *cron) Next(after time.Time) time.Time {
	t := after.UTC()
	if t.Before(firstInstant) {
		t = firstInstant
	} else {
		t = t.Truncate(time.Minute).Add(time.Minute)
	}
	year, month, day := t.Date()
	hour, minute := t.Hour(), t.Minute()
	for ; year <= yearField.max; year, month, day, hour, minute = year+1, 1, 1, 0, 0 {
		if !c.years.has(year - yearField.min) {
			continue
		}
		for ; month <= 12; month, day, hour, minute = month+1, 1, 0, 0 {
			if c.months&(1<<(month-1)) == 0 {
				continue
			}
			days := c.day.days(year, month)
			for {
				d, ok := nextBit(days, day-1)
				if !ok {
					break
				}
				if d+1 != day {
					day, hour, minute = d+1, 0, 0
				}
				if h, m, ok := c.timeOfDay(hour, minute); ok {
					return time.Date(year, month, day, h, m, 0, 0, time.UTC)
				}
				day, hour, minute = day+1, 0, 0
			}
		}
	}
	return time.Time{}
}

// timeOfDay returns the first matching hour and minute at or after h:m.
func (c *cron) timeOfDay(h, m int) (int, int, bool) {
	for {
		hh, ok := nextBit(c.hours, h)
		if !ok {
			return 0, 0, false
		}
		if hh != h {
			m = 0
		}
		if mm, ok := nextBit(c.minutes, m); ok {
			return hh, mm, true
		}
		h, m = hh+1, 0
	}
}

// nextBit returns the lowest set bit of mask at index from or above.
func nextBit(mask uint64, from int) (int, bool) {
	if from >= 64 {
		return 0, false
	}
	mask &^= 1<<from - 1
	if mask == 0 {
		return 0, false
	}
	return bits.TrailingZeros64(mask), true
}
