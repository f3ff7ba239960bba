package cost

import (
	"math"
	"strconv"
	"strings"
)

// usd formats a cost in dollars and cents: "$1,234.57".
func usd(v float64) string {
	return "$" + group(strconv.FormatFloat(math.Round(v*100)/100, 'f', 2, 64))
}

// rate formats a unit price exactly as the table gives it: "$0.0000166667".
// At least two decimals are shown: "$1.00".
func rate(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	_, frac, _ := strings.Cut(s, ".")
	if len(frac) < 2 {
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "$" + s
}

// qty formats a quantity with thousands separators and at most four
// decimals: "432,000,000", "6.6667".
func qty(v float64) string {
	s := strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
	return group(s)
}

// per formats a price's Per as the divisor shown after it: "" for 1,
// " / 1M" for a million.
func per(p float64) string {
	switch p {
	case 1:
		return ""
	case 1e6:
		return " / 1M"
	}
	return " / " + qty(p)
}

// group puts thousands separators into a plain decimal number.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// HumanCount formats a request volume briefly: "1k", "12.5M", "2B".
func HumanCount(v float64) string {
	for _, u := range []struct {
		div float64
		suf string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strconv.FormatFloat(math.Round(v/u.div*10)/10, 'f', -1, 64) + u.suf
		}
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
}
