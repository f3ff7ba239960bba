package schedule

import (
	"testing"
	"time"
)

// at parses an RFC 3339 instant; a bare date means midnight UTC.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	if len(s) == len("2006-01-02") {
		s += "T00:00:00Z"
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad instant %q: %v", s, err)
	}
	return v
}

func TestNext(t *testing.T) {
	tests := []struct {
		expr, after, want string // want "" means the zero time
	}{
		// rate: ticks count from the Unix epoch, strictly after after.
		{"rate(5 minutes)", "2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z"},
		{"rate(5 minutes)", "2024-01-01T00:04:59.999Z", "2024-01-01T00:05:00Z"},
		{"rate(5 minutes)", "2024-01-01T00:05:00Z", "2024-01-01T00:10:00Z"},
		{"rate(1 minute)", "2024-02-29T23:59:30Z", "2024-03-01T00:00:00Z"},
		{"rate(90 minutes)", "2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z"},
		{"rate(1 hour)", "2024-03-10T10:30:00Z", "2024-03-10T11:00:00Z"},
		{"rate(1 day)", "2024-02-28T12:00:00Z", "2024-02-29T00:00:00Z"},
		{"rate(7 days)", "2024-06-15T00:00:00Z", "2024-06-20T00:00:00Z"}, // the epoch was a Thursday
		{"rate(1 day)", "1969-12-31T12:00:00Z", "1970-01-01T00:00:00Z"},
		{"rate(1 day)", "1969-12-30T00:00:00Z", "1969-12-31T00:00:00Z"},
		{"rate(1 hour)", "2024-01-01T12:30:00+02:00", "2024-01-01T11:00:00Z"},

		// Plain fields.
		{"cron(0 12 * * ? *)", "2024-01-01T11:59:59.999Z", "2024-01-01T12:00:00Z"},
		{"cron(0 12 * * ? *)", "2024-01-01T12:00:00Z", "2024-01-02T12:00:00Z"},
		{"cron(0 12 * * ? *)", "2024-01-01T12:00:00.5Z", "2024-01-02T12:00:00Z"},
		{"cron(0 12 * * ? *)", "2024-01-01T13:00:00+02:00", "2024-01-01T12:00:00Z"},
		{"cron(0/15 * * * ? *)", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"},
		{"cron(0/15 * * * ? *)", "2024-12-31T23:45:00Z", "2025-01-01T00:00:00Z"},
		{"cron(5/20 9-17 ? * MON-FRI *)", "2024-06-14T17:50:00Z", "2024-06-17T09:05:00Z"},
		{"cron(30 6 1 NOV-DEC ? *)", "2024-12-01T06:30:00Z", "2025-11-01T06:30:00Z"},
		{"cron(0 0 1 1 ? 2020/4)", "2025-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		{"cron(0 0 1 1 ? *)", "1900-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
		{"cron(0 0 1 1 ? *)", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},

		// Month ends and leap years.
		{"cron(0 0 31 * ? *)", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},
		{"cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"}, // 2100 is not a leap year
		{"cron(0 0 L * ? *)", "2024-02-01T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2023-02-01T00:00:00Z", "2023-02-28T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"},
		{"cron(0 0 L FEB ? *)", "2099-03-01T00:00:00Z", "2100-02-28T00:00:00Z"},

		// W: the nearest weekday, never leaving the month.
		{"cron(0 9 15W * ? *)", "2024-06-01T00:00:00Z", "2024-06-14T09:00:00Z"}, // 15th a Saturday
		{"cron(0 9 1W * ? *)", "2024-05-31T00:00:00Z", "2024-06-03T09:00:00Z"},  // 1st a Saturday: Monday 3rd, not May 31st
		{"cron(0 9 1W * ? *)", "2024-08-31T00:00:00Z", "2024-09-02T09:00:00Z"},  // 1st a Sunday
		{"cron(0 9 30W * ? *)", "2024-06-01T00:00:00Z", "2024-06-28T09:00:00Z"}, // 30th a Sunday and the last day
		{"cron(0 9 30W * ? *)", "2024-02-01T00:00:00Z", "2024-03-29T09:00:00Z"}, // no 30th in February
		{"cron(0 9 31W * ? *)", "2025-08-01T00:00:00Z", "2025-08-29T09:00:00Z"}, // 31st a Sunday
		{"cron(0 9 31W * ? *)", "2025-05-01T00:00:00Z", "2025-05-30T09:00:00Z"}, // 31st a Saturday
		{"cron(0 9 LW * ? *)", "2024-06-01T00:00:00Z", "2024-06-28T09:00:00Z"},  // last day a Sunday
		{"cron(0 9 LW * ? *)", "2024-11-01T00:00:00Z", "2024-11-29T09:00:00Z"},  // last day a Saturday
		{"cron(0 9 LW * ? *)", "2024-02-01T00:00:00Z", "2024-02-29T09:00:00Z"},  // last day a Thursday
		{"cron(0 9 LW * ? *)", "2024-06-28T09:00:00Z", "2024-07-31T09:00:00Z"},

		// Day-of-week: L, nL and n#k.
		{"cron(0 0 ? * L *)", "2024-06-14T00:00:00Z", "2024-06-15T00:00:00Z"},
		{"cron(15 10 ? * 6L *)", "2024-06-01T00:00:00Z", "2024-06-28T10:15:00Z"},
		{"cron(15 10 ? * 6L *)", "2024-06-28T10:15:00Z", "2024-07-26T10:15:00Z"},
		{"cron(0 8 ? * 3#2 *)", "2024-06-01T00:00:00Z", "2024-06-11T08:00:00Z"},
		{"cron(0 8 ? * 2#5 *)", "2024-06-01T00:00:00Z", "2024-07-29T08:00:00Z"},   // June 2024 has four Mondays
		{"cron(0 8 ? * FRI#5 *)", "2024-06-01T00:00:00Z", "2024-08-30T08:00:00Z"}, // June and July have four Fridays
		{"cron(0 8 ? FEB 5#5 *)", "2024-01-01T00:00:00Z", "2024-02-29T08:00:00Z"}, // a leap February has five Thursdays
		{"cron(0 8 ? FEB 5#5 *)", "2024-03-01T00:00:00Z", "2052-02-29T08:00:00Z"},
		{"cron(0 0 ? * SUN,SAT *)", "2024-06-10T00:00:00Z", "2024-06-15T00:00:00Z"},

		// Year ranges that end.
		{"cron(0 0 1 1 ? 2024-2026)", "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"cron(0 0 1 1 ? 2024-2026)", "2026-01-01T00:00:00Z", ""},
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:58:00Z", "2199-12-31T23:59:00Z"},
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:59:00Z", ""},
		{"cron(* * * * ? *)", "2199-12-31T23:59:00Z", ""},
		{"cron(* * * * ? *)", "3000-01-01T00:00:00Z", ""},
		{"cron(0 8 ? * 2#5 2024)", "2024-12-30T08:00:00Z", ""},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		after := at(t, tt.after)
		got := s.Next(after)
		if tt.want == "" {
			if !got.IsZero() {
				t.Errorf("%s.Next(%s) = %s, want the zero time", tt.expr, tt.after, got.Format(time.RFC3339))
			}
			continue
		}
		if want := at(t, tt.want); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s.Next(%s) = %s, want %s", tt.expr, tt.after, got.Format(time.RFC3339), tt.want)
		}
	}
}
