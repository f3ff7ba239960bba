package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzInstants = []time.Time{
	{},
	time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC),
	time.Date(2024, 2, 28, 23, 59, 59, 500, time.UTC),
	time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC),
	time.Date(2100, 2, 28, 12, 0, 0, 0, time.UTC),
	time.Date(2199, 12, 31, 23, 58, 0, 0, time.UTC),
}

// FuzzParse checks that Parse never panics, that errors are one line of
// type *Error, that String round-trips, and that every time Next returns
// is strictly later, minute-aligned, UTC and matches the expression.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"rate(5 minutes)", "rate(1 day)", "cron(0 12 * * ? *)", "cron(0 9 LW * ? *)",
		"cron(15 10 ? * 6L 2024-2030)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 8 ? * 2#5 *)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("Parse(%q) error %q is not a one-line *Error", expr, err)
			}
			return
		}
		again, err := Parse(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("Parse(%q).String() = %q does not round-trip: %v", expr, s.String(), err)
		}
		for _, after := range fuzzInstants {
			next := s.Next(after)
			if next.IsZero() {
				continue
			}
			if !next.After(after) || next.Location() != time.UTC || next.Second() != 0 || next.Nanosecond() != 0 {
				t.Fatalf("%s.Next(%s) = %s: not a later whole UTC minute", s, after, next)
			}
			if n := again.Next(after); !n.Equal(next) {
				t.Fatalf("%s.Next(%s) = %s, but its String's Next = %s", s, after, next, n)
			}
			switch v := s.(type) {
			case *rate:
				if next.Unix()-after.Unix() > v.period || (next.Unix()-rateAnchor.Unix())%v.period != 0 {
					t.Fatalf("%s.Next(%s) = %s: not the next tick", s, after, next)
				}
			case *cron:
				want := specOf(v)
				if !want.matches(next) {
					t.Fatalf("%s.Next(%s) = %s, which does not match", s, after, next)
				}
				// Within a day, check that nothing earlier matched.
				if next.Sub(after) <= 24*time.Hour {
					if b := want.bruteNext(after, next.Add(time.Minute)); !b.Equal(next) {
						t.Fatalf("%s.Next(%s) = %s, but %s matches first", s, after, next, b)
					}
				}
			}
		}
	})
}
