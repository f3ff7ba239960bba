package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// set holds the values of one cron field, indexed by value minus the
// field's minimum; 256 bits cover the widest field (years 1970-2199).
type set [4]uint64

func (s *set) add(i int)     { s[i>>6] |= 1 << (i & 63) }
func (s set) has(i int) bool { return i >= 0 && i < 256 && s[i>>6]&(1<<(i&63)) != 0 }

// field describes one cron field as the EventBridge docs list it.
type field struct {
	name     string
	min, max int
	names    []string // names[i] spells value min+i
	noStep   bool     // "/" is not among the field's wildcards
	allowed  string   // how values are written, for error messages
}

var (
	minutesField = field{name: "minutes", min: 0, max: 59, allowed: "0-59"}
	hoursField   = field{name: "hours", min: 0, max: 23, allowed: "0-23"}
	domField     = field{name: "day-of-month", min: 1, max: 31, allowed: "1-31"}
	monthField   = field{name: "month", min: 1, max: 12, allowed: "1-12 or JAN-DEC",
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 1, max: 7, allowed: "1-7 (1 = Sunday) or SUN-SAT", noStep: true,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = field{name: "year", min: 1970, max: 2199, allowed: "1970-2199"}
)

// maxStep is the largest increment after "/". The docs are silent; Quartz,
// whose dialect EventBridge follows, rejects increments above the field's
// maximum (59 minutes, 23 hours, 31 days, 12 months), and for years an
// increment wider than the whole range is pointless.
func (f field) maxStep() int { return min(f.max, f.max-f.min+1) }

// parseList parses a field made of the common wildcards , - * and /,
// returning the values and the field's normalized text.
func (f field) parseList(text string) (set, string, error) {
	var vals set
	items := strings.Split(text, ",")
	for i, item := range items {
		norm, err := f.parseItem(item, &vals)
		if err != nil {
			return set{}, "", err
		}
		items[i] = norm
	}
	return vals, strings.Join(items, ","), nil
}

func (f field) parseItem(item string, vals *set) (string, error) {
	if item == "" {
		return "", fmt.Errorf("%s has an empty list item; separate values with single commas, e.g. %s", f.name, f.listExample())
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		if f.noStep {
			return "", fmt.Errorf("/ is not allowed in %s; list the days instead, e.g. MON,WED,FRI", f.name)
		}
		n, err := strconv.Atoi(stepText)
		if err != nil || !isDigits(stepText) || n < 1 || n > f.maxStep() {
			return "", fmt.Errorf("%s increment %q is not valid; use a whole number from 1 to %d after /, e.g. %d/%d", f.name, stepText, f.maxStep(), f.min, min(5, f.maxStep()))
		}
		step = n
	}
	var lo, hi int
	var norm string
	switch {
	case base == "*":
		lo, hi, norm = f.min, f.max, "*"
	case strings.Contains(base, "-"):
		a, b, _ := strings.Cut(base, "-")
		var na, nb string
		var err error
		if lo, na, err = f.value(a); err != nil {
			return "", err
		}
		if hi, nb, err = f.value(b); err != nil {
			return "", err
		}
		if lo > hi {
			return "", fmt.Errorf("%s range %s-%s runs backwards; ranges must ascend, so split it, e.g. %s-%s,%s-%s",
				f.name, na, nb, na, f.spell(f.max, na), f.spell(f.min, nb), nb)
		}
		norm = na + "-" + nb
	default:
		var err error
		if lo, norm, err = f.value(base); err != nil {
			return "", err
		}
		hi = lo
		if hasStep {
			hi = f.max // "a/n" means a, a+n, ... up to the field's maximum
		}
	}
	for v := lo; v <= hi; v += step {
		vals.add(v - f.min)
	}
	if hasStep {
		norm += "/" + strconv.Itoa(step)
	}
	return norm, nil
}

// value parses one number or name, returning it and its normalized text.
func (f field) value(text string) (int, string, error) {
	switch {
	case text == "":
		return 0, "", fmt.Errorf("%s is missing a value around - or /; use %s", f.name, f.allowed)
	case text == "?" && (f.name == domField.name || f.name == dowField.name):
		return 0, "", fmt.Errorf("? must be the whole %s field", f.name)
	case text == "?":
		return 0, "", fmt.Errorf("? is only allowed in day-of-month and day-of-week; use * in %s", f.name)
	case isDigits(text):
		n, err := strconv.Atoi(text)
		if err != nil || n < f.min || n > f.max {
			return 0, "", fmt.Errorf("%s value %s is out of range; use %s", f.name, text, f.allowed)
		}
		return n, strconv.Itoa(n), nil
	}
	up := strings.ToUpper(text)
	for i, name := range f.names {
		if up == name {
			return f.min + i, name, nil
		}
	}
	return 0, "", fmt.Errorf("%s value %q is not recognised; use %s", f.name, text, f.allowed)
}

// spell writes v the way like is written: as a name if like is one.
func (f field) spell(v int, like string) string {
	if len(f.names) > 0 && !isDigits(like) {
		return f.names[v-f.min]
	}
	return strconv.Itoa(v)
}

func (f field) listExample() string {
	if len(f.names) > 0 {
		return strings.Join(f.names[:3], ",")
	}
	return fmt.Sprintf("%d,%d,%d", f.min, f.min+1, f.min+2)
}
