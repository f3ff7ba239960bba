package schedule

import (
	"time"
)

// This file is the test oracle: a slow, obvious reading of the cron rules
// that shares no calendar code with day.go or cron.go.

// naiveDay reports whether rule r picks day d of the month, working from
// time.Date alone.
func naiveDay(r dayRule, year int, month time.Month, d int) bool {
	date := func(day int) time.Time { return time.Date(year, month, day, 0, 0, 0, 0, time.UTC) }
	inMonth := func(day int) bool { return day >= 1 && date(day).Month() == month }
	isLast := func(day int) bool { return !inMonth(day + 1) }
	wd := func(day int) int { return int(date(day).Weekday()) + 1 } // EventBridge numbering, 1 = Sunday
	weekend := func(day int) bool { return wd(day) == 1 || wd(day) == 7 }
	if !inMonth(d) {
		return false
	}
	switch r.kind {
	case domSet:
		return r.set.has(d - 1)
	case domLast:
		return isLast(d)
	case domLastWeekday:
		// d is a weekday and no later day of the month is one.
		if weekend(d) {
			return false
		}
		for later := d + 1; inMonth(later); later++ {
			if !weekend(later) {
				return false
			}
		}
		return true
	case domNearestWeekday:
		if !inMonth(r.n) || weekend(d) {
			return false
		}
		if !weekend(r.n) {
			return d == r.n
		}
		// Closest weekday in the month; on a tie (impossible for a weekend
		// day, whose neighbours are 1 and 2 days away) the earlier wins.
		best := 0
		for c := 1; inMonth(c); c++ {
			if weekend(c) {
				continue
			}
			if best == 0 || abs(c-r.n) < abs(best-r.n) {
				best = c
			}
		}
		return d == best
	case dowSet:
		return r.set.has(wd(d) - 1)
	case dowLast:
		return wd(d) == r.n && !inMonth(d+7)
	case dowNth:
		count := 0
		for c := 1; c <= d; c++ {
			if wd(c) == r.n {
				count++
			}
		}
		return wd(d) == r.n && count == r.k
	}
	return false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// spec is a cron expression as plain truth tables.
type spec struct {
	minutes [60]bool
	hours   [24]bool
	months  [13]bool   // index 1-12
	years   [2200]bool // index is the year
	day     dayRule
}

func (s *spec) matches(t time.Time) bool {
	t = t.UTC()
	y, m, d := t.Date()
	return t.Second() == 0 && t.Nanosecond() == 0 && y >= 1970 && y <= 2199 &&
		s.years[y] && s.months[m] && s.hours[t.Hour()] && s.minutes[t.Minute()] && naiveDay(s.day, y, m, d)
}

// specOf reads a parsed cron back into truth tables, so fuzzing can check
// Next against the oracle for any expression the parser accepts.
func specOf(c *cron) *spec {
	s := &spec{day: c.day}
	for i := range s.minutes {
		s.minutes[i] = c.minutes&(1<<i) != 0
	}
	for i := range s.hours {
		s.hours[i] = c.hours&(1<<i) != 0
	}
	for m := 1; m <= 12; m++ {
		s.months[m] = c.months&(1<<(m-1)) != 0
	}
	for y := 1970; y <= 2199; y++ {
		s.years[y] = c.years.has(y - 1970)
	}
	return s
}

// bruteNext walks forward minute by minute (skipping whole days that
// cannot match) and returns the first match strictly after after and
// before until, or the zero time.
func (s *spec) bruteNext(after, until time.Time) time.Time {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	if floor := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(floor) {
		t = floor
	}
	for t.Before(until) {
		y, m, d := t.Date()
		if y > 2199 {
			break
		}
		midnight := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		if !s.years[y] || !s.months[m] || !naiveDay(s.day, y, m, d) {
			t = midnight
			continue
		}
		for ; t.Before(midnight) && t.Before(until); t = t.Add(time.Minute) {
			if s.matches(t) {
				return t
			}
		}
	}
	return time.Time{}
}

// neverFires reports whether no day from 1970 to 2199 matches.
func (s *spec) neverFires() bool {
	for d := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= 2199; d = d.AddDate(0, 0, 1) {
		y, m, day := d.Date()
		if s.years[y] && s.months[m] && naiveDay(s.day, y, m, day) {
			return false
		}
	}
	return true
}
