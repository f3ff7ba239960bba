package schedule

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNormalizes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rate(1 minute)", "rate(1 minute)"},
		{"rate(5 minutes)", "rate(5 minutes)"},
		{"rate(1 hour)", "rate(1 hour)"},
		{"rate(12 hours)", "rate(12 hours)"},
		{"rate(1 day)", "rate(1 day)"},
		{"rate(7 days)", "rate(7 days)"},
		{"  rate( 05   MINUTES )  ", "rate(5 minutes)"},
		{"cron(0 12 * * ? *)", "cron(0 12 * * ? *)"},
		{"cron(00  12 * jan ? *)", "cron(0 12 * JAN ? *)"},
		{"cron(0 9 ? * mon-fri *)", "cron(0 9 ? * MON-FRI *)"},
		{"cron(0/15 * * * ? *)", "cron(0/15 * * * ? *)"},
		{"cron(*/10 8-18/2 1-15/3 */2 ? 2024-2030/2)", "cron(*/10 8-18/2 1-15/3 */2 ? 2024-2030/2)"},
		{"cron(0 0 l * ? *)", "cron(0 0 L * ? *)"},
		{"cron(0 0 lw * ? *)", "cron(0 0 LW * ? *)"},
		{"cron(0 0 015w * ? *)", "cron(0 0 15W * ? *)"},
		{"cron(15 10 ? * 6l *)", "cron(15 10 ? * 6L *)"},
		{"cron(15 10 ? * fril *)", "cron(15 10 ? * FRIL *)"},
		{"cron(0 8 ? * 3#2 *)", "cron(0 8 ? * 3#2 *)"},
		{"cron(0 8 ? * tue#2 *)", "cron(0 8 ? * TUE#2 *)"},
		{"cron(0 0 ? * l *)", "cron(0 0 ? * L *)"},
		{"cron(0 0 1,15 JAN,jul ? 1970,2199)", "cron(0 0 1,15 JAN,JUL ? 1970,2199)"},
		{"cron(0 0 ? * SUN,SAT *)", "cron(0 0 ? * SUN,SAT *)"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	long := "cron(" + strings.Repeat("0,", 130) + "0 * * * ? *)"
	tests := []struct{ in, want string }{
		// Whole expression.
		{"", `invalid schedule "": empty; use "rate(value unit)" or "cron(minutes hours day-of-month month day-of-week year)", e.g. "rate(5 minutes)" or "cron(0 12 * * ? *)"`},
		{"every 5 minutes", `invalid schedule "every 5 minutes": not a rate or cron expression; use "rate(value unit)" or "cron(minutes hours day-of-month month day-of-week year)", e.g. "rate(5 minutes)" or "cron(0 12 * * ? *)"`},
		{"RATE(5 minutes)", `invalid schedule "RATE(5 minutes)": not a rate or cron expression; use "rate(value unit)" or "cron(minutes hours day-of-month month day-of-week year)", e.g. "rate(5 minutes)" or "cron(0 12 * * ? *)"`},
		{"rate(5 minutes", `invalid schedule "rate(5 minutes": missing closing parenthesis; use "rate(value unit)" or "cron(minutes hours day-of-month month day-of-week year)", e.g. "rate(5 minutes)" or "cron(0 12 * * ? *)"`},
		{long, `invalid schedule "` + long[:64] + `...": longer than 256 characters, the EventBridge limit`},

		// Rate.
		{"rate(5 minute)", `invalid schedule "rate(5 minute)": use the plural unit with a value above 1, e.g. "rate(5 minutes)"`},
		{"rate(2 day)", `invalid schedule "rate(2 day)": use the plural unit with a value above 1, e.g. "rate(2 days)"`},
		{"rate(1 minutes)", `invalid schedule "rate(1 minutes)": use the singular unit with a value of 1, e.g. "rate(1 minute)"`},
		{"rate(1 hours)", `invalid schedule "rate(1 hours)": use the singular unit with a value of 1, e.g. "rate(1 hour)"`},
		{"rate(0 minutes)", `invalid schedule "rate(0 minutes)": rate value must be positive; use 1 or more, e.g. "rate(1 minute)"`},
		{"rate(-5 minutes)", `invalid schedule "rate(-5 minutes)": rate value "-5" is not a whole number; use a positive integer, e.g. "rate(5 minutes)"`},
		{"rate(1.5 hours)", `invalid schedule "rate(1.5 hours)": rate value "1.5" is not a whole number; use a positive integer, e.g. "rate(5 minutes)"`},
		{"rate(2147483648 days)", `invalid schedule "rate(2147483648 days)": rate value 2147483648 is too large; use at most 2147483647`},
		{"rate(30 seconds)", `invalid schedule "rate(30 seconds)": unknown rate unit "seconds"; use minute, minutes, hour, hours, day or days`},
		{"rate(5)", `invalid schedule "rate(5)": rate needs a value and a unit, e.g. "rate(5 minutes)"`},
		{"rate(5 minutes please)", `invalid schedule "rate(5 minutes please)": rate needs a value and a unit, e.g. "rate(5 minutes)"`},

		// Cron shape and the ? rule.
		{"cron(0 12 * * *)", `invalid schedule "cron(0 12 * * *)": cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5; e.g. "cron(0 12 * * ? *)"`},
		{"cron(0 12 * * * *)", `invalid schedule "cron(0 12 * * * *)": day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. "cron(0 12 * * ? *)"`},
		{"cron(0 9 * * MON-FRI *)", `invalid schedule "cron(0 9 * * MON-FRI *)": day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. "cron(0 9 ? * MON-FRI *)"`},
		{"cron(0 9 15 * MON *)", `invalid schedule "cron(0 9 15 * MON *)": day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. "cron(0 9 15 * ? *)"`},
		{"cron(0 12 ? * ? *)", `invalid schedule "cron(0 12 ? * ? *)": day-of-month and day-of-week cannot both be ?; set one of them, e.g. "cron(0 12 * * ? *)"`},
		{"cron(? 12 * * ? *)", `invalid schedule "cron(? 12 * * ? *)": ? is only allowed in day-of-month and day-of-week; use * in minutes`},
		{"cron(0 12 1,? * ? *)", `invalid schedule "cron(0 12 1,? * ? *)": ? must be the whole day-of-month field`},

		// Field values.
		{"cron(60 12 * * ? *)", `invalid schedule "cron(60 12 * * ? *)": minutes value 60 is out of range; use 0-59`},
		{"cron(0 24 * * ? *)", `invalid schedule "cron(0 24 * * ? *)": hours value 24 is out of range; use 0-23`},
		{"cron(0 0 0 * ? *)", `invalid schedule "cron(0 0 0 * ? *)": day-of-month value 0 is out of range; use 1-31`},
		{"cron(0 0 1 13 ? *)", `invalid schedule "cron(0 0 1 13 ? *)": month value 13 is out of range; use 1-12 or JAN-DEC`},
		{"cron(0 0 1 JANUARY ? *)", `invalid schedule "cron(0 0 1 JANUARY ? *)": month value "JANUARY" is not recognised; use 1-12 or JAN-DEC`},
		{"cron(0 0 ? * 0 *)", `invalid schedule "cron(0 0 ? * 0 *)": day-of-week value 0 is out of range; use 1-7 (1 = Sunday) or SUN-SAT`},
		{"cron(0 0 1 1 ? 1969)", `invalid schedule "cron(0 0 1 1 ? 1969)": year value 1969 is out of range; use 1970-2199`},
		{"cron(0 0 1 1 ? 2200)", `invalid schedule "cron(0 0 1 1 ? 2200)": year value 2200 is out of range; use 1970-2199`},
		{"cron(0 99999999999999999999 * * ? *)", `invalid schedule "cron(0 99999999999999999999 * * ? *)": hours value 99999999999999999999 is out of range; use 0-23`},
		{"cron(0,,30 * * * ? *)", `invalid schedule "cron(0,,30 * * * ? *)": minutes has an empty list item; separate values with single commas, e.g. 0,1,2`},
		{"cron(0 0 1 JAN,,MAR ? *)", `invalid schedule "cron(0 0 1 JAN,,MAR ? *)": month has an empty list item; separate values with single commas, e.g. JAN,FEB,MAR`},
		{"cron(0 22-2 * * ? *)", `invalid schedule "cron(0 22-2 * * ? *)": hours range 22-2 runs backwards; ranges must ascend, so split it, e.g. 22-23,0-2`},
		{"cron(0 0 ? * FRI-MON *)", `invalid schedule "cron(0 0 ? * FRI-MON *)": day-of-week range FRI-MON runs backwards; ranges must ascend, so split it, e.g. FRI-SAT,SUN-MON`},
		{"cron(-5 * * * ? *)", `invalid schedule "cron(-5 * * * ? *)": minutes is missing a value around - or /; use 0-59`},
		{"cron(/5 * * * ? *)", `invalid schedule "cron(/5 * * * ? *)": minutes is missing a value around - or /; use 0-59`},
		{"cron(0/0 * * * ? *)", `invalid schedule "cron(0/0 * * * ? *)": minutes increment "0" is not valid; use a whole number from 1 to 59 after /, e.g. 0/5`},
		{"cron(0/60 * * * ? *)", `invalid schedule "cron(0/60 * * * ? *)": minutes increment "60" is not valid; use a whole number from 1 to 59 after /, e.g. 0/5`},
		{"cron(0 0 1 */13 ? *)", `invalid schedule "cron(0 0 1 */13 ? *)": month increment "13" is not valid; use a whole number from 1 to 12 after /, e.g. 1/5`},
		{"cron(0 0 ? * 2/2 *)", `invalid schedule "cron(0 0 ? * 2/2 *)": / is not allowed in day-of-week; list the days instead, e.g. MON,WED,FRI`},

		// L, W and #.
		{"cron(0 0 L-2 * ? *)", `invalid schedule "cron(0 0 L-2 * ? *)": day-of-month "L-2" is not valid; L, LW and W stand alone, e.g. L, LW or 15W`},
		{"cron(0 0 1,L * ? *)", `invalid schedule "cron(0 0 1,L * ? *)": day-of-month "1,L" is not valid; L, LW and W stand alone, e.g. L, LW or 15W`},
		{"cron(0 0 1-5W * ? *)", `invalid schedule "cron(0 0 1-5W * ? *)": day-of-month "1-5W" is not valid; L, LW and W stand alone, e.g. L, LW or 15W`},
		{"cron(0 0 32W * ? *)", `invalid schedule "cron(0 0 32W * ? *)": day-of-month 32W names no day; use a day 1-31 before W, e.g. 15W`},
		{"cron(0 0 3#2 * ? *)", `invalid schedule "cron(0 0 3#2 * ? *)": # is only allowed in day-of-week, e.g. 3#2 for the second Tuesday`},
		{"cron(0 0 ? * 3#1,6#3 *)", `invalid schedule "cron(0 0 ? * 3#1,6#3 *)": day-of-week "3#1,6#3" is not valid; # takes a single day and stands alone, e.g. 3#2 for the second Tuesday`},
		{"cron(0 0 ? * 3#6 *)", `invalid schedule "cron(0 0 ? * 3#6 *)": day-of-week "3#6" is not valid; use 1-5 after #, e.g. 3#2 for the second Tuesday`},
		{"cron(0 0 ? * 8#1 *)", `invalid schedule "cron(0 0 ? * 8#1 *)": day-of-week value 8 is out of range; use 1-7 (1 = Sunday) or SUN-SAT`},
		{"cron(0 0 ? * 2-6L *)", `invalid schedule "cron(0 0 ? * 2-6L *)": day-of-week "2-6L" is not valid; L stands alone or after a single day, e.g. L or 6L for the last Friday`},
		{"cron(0 0 ? * 15W *)", `invalid schedule "cron(0 0 ? * 15W *)": day-of-week value "15W" is not recognised; use 1-7 (1 = Sunday) or SUN-SAT`},
		{"cron(0 L * * ? *)", `invalid schedule "cron(0 L * * ? *)": hours value "L" is not recognised; use 0-23`},

		// Expressions that can never fire.
		{"cron(0 0 30 2 ? *)", `invalid schedule "cron(0 0 30 2 ? *)": it never fires: no date in the chosen months and years has the chosen day (e.g. there is no February 30th); pick days that exist in those months`},
		{"cron(0 0 31 APR,JUN,SEP,NOV ? *)", `invalid schedule "cron(0 0 31 APR,JUN,SEP,NOV ? *)": it never fires: no date in the chosen months and years has the chosen day (e.g. there is no February 30th); pick days that exist in those months`},
		{"cron(0 0 29 FEB ? 2025-2027)", `invalid schedule "cron(0 0 29 FEB ? 2025-2027)": it never fires: no date in the chosen months and years has the chosen day (e.g. there is no February 30th); pick days that exist in those months`},
		{"cron(0 0 ? FEB 2#5 2025-2027)", `invalid schedule "cron(0 0 ? FEB 2#5 2025-2027)": it never fires: no date in the chosen months and years has the chosen day (e.g. there is no February 30th); pick days that exist in those months`},
	}
	for _, tt := range tests {
		s, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error", tt.in, s)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.in, got, tt.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Expr != tt.in {
			t.Errorf("Parse(%q) error is %T, want *Error naming the expression", tt.in, err)
		}
	}
}
