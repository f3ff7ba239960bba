package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dayKind is the way a cron expression picks days. Exactly one of
// day-of-month and day-of-week is set (the other is ?), so one rule covers
// both fields.
type dayKind uint8

const (
	domSet            dayKind = iota // day-of-month list: 1,15 or 1-7 or */2
	domLast                          // day-of-month L: last day of the month
	domLastWeekday                   // day-of-month LW: last Monday-Friday
	domNearestWeekday                // day-of-month nW: Monday-Friday nearest day n
	dowSet                           // day-of-week list: MON-FRI, or L (Saturday)
	dowLast                          // day-of-week nL: last weekday n of the month
	dowNth                           // day-of-week n#k: k-th weekday n of the month
)

type dayRule struct {
	kind dayKind
	set  set // domSet: days 1-31 at bits 0-30; dowSet: SUN-SAT at bits 0-6
	n    int // domNearestWeekday: day of month; dowLast, dowNth: weekday 1-7
	k    int // dowNth: 1-5
}

// parseDayOfMonth parses a day-of-month field other than "?".
func parseDayOfMonth(text string) (dayRule, string, error) {
	up := strings.ToUpper(text)
	switch {
	case up == "L":
		return dayRule{kind: domLast}, "L", nil
	case up == "LW":
		return dayRule{kind: domLastWeekday}, "LW", nil
	case strings.HasSuffix(up, "W") && isDigits(up[:len(up)-1]):
		n, err := strconv.Atoi(up[:len(up)-1])
		if err != nil || n < 1 || n > 31 {
			return dayRule{}, "", fmt.Errorf("day-of-month %s names no day; use a day 1-31 before W, e.g. 15W", text)
		}
		return dayRule{kind: domNearestWeekday, n: n}, strconv.Itoa(n) + "W", nil
	case strings.ContainsAny(up, "LW"):
		return dayRule{}, "", fmt.Errorf("day-of-month %q is not valid; L, LW and W stand alone, e.g. L, LW or 15W", text)
	case strings.Contains(up, "#"):
		return dayRule{}, "", fmt.Errorf("# is only allowed in day-of-week, e.g. 3#2 for the second Tuesday")
	}
	vals, norm, err := domField.parseList(text)
	return dayRule{kind: domSet, set: vals}, norm, err
}

// parseDayOfWeek parses a day-of-week field other than "?".
func parseDayOfWeek(text string) (dayRule, string, error) {
	up := strings.ToUpper(text)
	if up == "L" {
		// The docs: L in day-of-week is the last day of the week, Saturday.
		var sat set
		sat.add(6)
		return dayRule{kind: dowSet, set: sat}, "L", nil
	}
	if day, nth, ok := strings.Cut(up, "#"); ok {
		// The docs allow one # expression per field: "3#1,6#3" is invalid.
		if strings.ContainsAny(up, ",-/*") {
			return dayRule{}, "", fmt.Errorf("day-of-week %q is not valid; # takes a single day and stands alone, e.g. 3#2 for the second Tuesday", text)
		}
		n, norm, err := dowField.value(day)
		if err != nil {
			return dayRule{}, "", err
		}
		k, err := strconv.Atoi(nth)
		if err != nil || !isDigits(nth) || k < 1 || k > 5 {
			return dayRule{}, "", fmt.Errorf("day-of-week %q is not valid; use 1-5 after #, e.g. 3#2 for the second Tuesday", text)
		}
		return dayRule{kind: dowNth, n: n, k: k}, norm + "#" + strconv.Itoa(k), nil
	}
	if day, ok := strings.CutSuffix(up, "L"); ok && !strings.ContainsAny(day, ",-/*L") {
		n, norm, err := dowField.value(day)
		if err != nil {
			return dayRule{}, "", err
		}
		return dayRule{kind: dowLast, n: n}, norm + "L", nil
	}
	// No day name contains an L, so any L left is misplaced.
	if strings.Contains(up, "L") {
		return dayRule{}, "", fmt.Errorf("day-of-week %q is not valid; L stands alone or after a single day, e.g. L or 6L for the last Friday", text)
	}
	vals, norm, err := dowField.parseList(text)
	return dayRule{kind: dowSet, set: vals}, norm, err
}

// days returns the days of the given month the rule picks, day d at bit d-1.
func (r dayRule) days(year int, month time.Month) uint64 {
	last := daysIn(year, month)
	first := int(time.Date(year, month, 1, 0, 0, 0, 0, time.UTC).Weekday()) // 0 = Sunday
	weekday := func(d int) int { return (first + d - 1) % 7 }
	switch r.kind {
	case domSet:
		return r.set[0] & (1<<last - 1)
	case domLast:
		return 1 << (last - 1)
	case domLastWeekday:
		d := last
		switch weekday(d) {
		case 6:
			d--
		case 0:
			d -= 2
		}
		return 1 << (d - 1)
	case domNearestWeekday:
		// The nearest weekday never leaves the month: a Saturday 1st moves
		// forward to Monday the 3rd, a Sunday last day back to Friday.
		d := r.n
		if d > last {
			return 0 // like a plain 31, 31W does not fire in shorter months
		}
		switch weekday(d) {
		case 6:
			if d == 1 {
				d += 2
			} else {
				d--
			}
		case 0:
			if d == last {
				d -= 2
			} else {
				d++
			}
		}
		return 1 << (d - 1)
	case dowSet:
		var mask uint64
		for d := 1; d <= last; d++ {
			if r.set.has(weekday(d)) {
				mask |= 1 << (d - 1)
			}
		}
		return mask
	case dowLast:
		d := last - (weekday(last)-(r.n-1)+7)%7
		return 1 << (d - 1)
	case dowNth:
		d := 1 + (r.n-1-first+7)%7 + 7*(r.k-1)
		if d > last {
			return 0 // no fifth such weekday this month
		}
		return 1 << (d - 1)
	}
	return 0
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
