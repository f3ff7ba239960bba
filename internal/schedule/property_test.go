package schedule

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gen builds random cron expressions together with their truth tables,
// written independently of the parser.
type gen struct{ r *rand.Rand }

// list renders a random list for a field and marks its values in truth,
// indexed by value.
func (g gen) list(f field, lo, hi int, truth []bool) string {
	if g.r.IntN(5) == 0 {
		if !f.noStep && g.r.IntN(2) == 0 {
			step := 1 + g.r.IntN(min(f.maxStep(), hi-lo+1))
			for v := f.min; v <= f.max; v += step {
				truth[v] = true
			}
			return "*/" + strconv.Itoa(step)
		}
		for v := f.min; v <= f.max; v++ {
			truth[v] = true
		}
		return "*"
	}
	items := make([]string, 1+g.r.IntN(3))
	for i := range items {
		a := lo + g.r.IntN(hi-lo+1)
		b := a + g.r.IntN(hi-a+1)
		step := 1
		if !f.noStep && g.r.IntN(3) == 0 {
			step = 1 + g.r.IntN(min(f.maxStep(), 7))
		}
		switch g.r.IntN(3) {
		case 0: // single value, or a/step running to the field's maximum
			if step > 1 {
				b = f.max
				items[i] = g.value(f, a) + "/" + strconv.Itoa(step)
			} else {
				b = a
				items[i] = g.value(f, a)
			}
		default: // range, maybe stepped
			items[i] = g.value(f, a) + "-" + g.value(f, b)
			if step > 1 {
				items[i] += "/" + strconv.Itoa(step)
			}
		}
		for v := a; v <= b; v += step {
			truth[v] = true
		}
	}
	return strings.Join(items, ",")
}

// value writes v as a number, or sometimes as a name in random case.
func (g gen) value(f field, v int) string {
	if len(f.names) == 0 || g.r.IntN(2) == 0 {
		return strconv.Itoa(v)
	}
	name := f.names[v-f.min]
	if g.r.IntN(2) == 0 {
		name = strings.ToLower(name)
	}
	return name
}

func (g gen) cron() (string, *spec) {
	s := &spec{}
	fields := make([]string, 6)
	fields[0] = g.list(minutesField, 0, 59, s.minutes[:])
	fields[1] = g.list(hoursField, 0, 23, s.hours[:])
	fields[3] = g.list(monthField, 1, 12, s.months[:])
	if g.r.IntN(3) == 0 {
		fields[5] = g.list(yearField, 1970, 2199, s.years[:])
	} else { // mostly years near the window under test, so ranges end in it
		fields[5] = g.list(yearField, 2022, 2032, s.years[:])
	}
	if g.r.IntN(2) == 0 {
		fields[4] = "?"
		switch g.r.IntN(5) {
		case 0:
			fields[2], s.day = "L", dayRule{kind: domLast}
		case 1:
			fields[2], s.day = "LW", dayRule{kind: domLastWeekday}
		case 2:
			n := []int{1, 2, 15, 28, 29, 30, 31, 1 + g.r.IntN(31)}[g.r.IntN(8)]
			fields[2], s.day = strconv.Itoa(n)+"W", dayRule{kind: domNearestWeekday, n: n}
		default:
			var truth [32]bool
			lo := []int{1, 25}[g.r.IntN(2)] // month ends are where bugs live
			fields[2] = g.list(domField, lo, 31, truth[:])
			s.day.kind = domSet
			for d := 1; d <= 31; d++ {
				if truth[d] {
					s.day.set.add(d - 1)
				}
			}
		}
		return "cron(" + strings.Join(fields, " ") + ")", s
	}
	fields[2] = "?"
	n := 1 + g.r.IntN(7)
	switch g.r.IntN(4) {
	case 0:
		fields[4], s.day = "L", dayRule{kind: dowSet}
		s.day.set.add(6)
	case 1:
		fields[4], s.day = g.value(dowField, n)+"L", dayRule{kind: dowLast, n: n}
	case 2:
		k := 1 + g.r.IntN(5)
		fields[4], s.day = fmt.Sprintf("%s#%d", g.value(dowField, n), k), dayRule{kind: dowNth, n: n, k: k}
	default:
		var truth [8]bool
		fields[4] = g.list(dowField, 1, 7, truth[:])
		s.day.kind = dowSet
		for w := 1; w <= 7; w++ {
			if truth[w] {
				s.day.set.add(w - 1)
			}
		}
	}
	return "cron(" + strings.Join(fields, " ") + ")", s
}

// TestNextMatchesBruteForce compares Next with a minute-by-minute search
// over a few years for random expressions.
func TestNextMatchesBruteForce(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	g := gen{rand.New(rand.NewPCG(1, 2))}
	window := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var calls, ended, never int
	defer func() { t.Logf("%d expressions, %d Next calls, %d ran out, %d never fire", n, calls, ended, never) }()
	for i := 0; i < n; i++ {
		expr, want := g.cron()
		s, err := Parse(expr)
		if err != nil {
			if strings.Contains(err.Error(), "never fires") && want.neverFires() {
				never++
				continue
			}
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		after := window.Add(time.Duration(g.r.Int64N(int64(3 * 365 * 24 * time.Hour))))
		until := after.AddDate(4, 0, 0)
		for step := 0; step < 4; step++ {
			got, exp := s.Next(after), want.bruteNext(after, until)
			calls++
			if exp.IsZero() {
				ended++
				if !got.IsZero() && got.Before(until) {
					t.Fatalf("%s.Next(%s) = %s, brute force finds nothing before %s", expr, after.Format(time.RFC3339), got.Format(time.RFC3339), until.Format(time.RFC3339))
				}
				break
			}
			if !got.Equal(exp) {
				t.Fatalf("%s.Next(%s) = %s, brute force says %s", expr, after.Format(time.RFC3339Nano), got.Format(time.RFC3339), exp.Format(time.RFC3339))
			}
			after = got
		}
	}
}
