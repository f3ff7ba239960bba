package web

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// CostLine is one line of a cost chart: the monthly cost at each of the
// chart's volumes.
type CostLine struct {
	Name  string // e.g. "container+balancer"
	Costs []float64
}

// CostMarker marks where two lines cross.
type CostMarker struct {
	A, B             string
	RequestsPerMonth float64
}

// CostChart is what DrawCostChart draws: monthly cost (USD) against
// requests a month for a few options, both on log scales (costs span
// cents to thousands of dollars as volume spans four decades).
type CostChart struct {
	Title   string
	Volumes []float64 // requests/month, ascending, > 0
	Lines   []CostLine
	Markers []CostMarker
}

// Cost chart geometry: the chart's width, taller to hold the legend on a
// row of its own and the markers' labels.
const (
	costH      = 300
	costTop    = 58.0
	costBottom = 262.0
)

// seriesColours are the stylesheet's --s0 … --s3, also set as
// presentation attributes so a cost chart saved as a file (slipway cost
// --plot) has its colours without the stylesheet.
var seriesColours = [maxSeries]string{"#2463eb", "#d9480f", "#7c3aed", "#0f9d8a"}

// DrawCostChart renders c as a standalone SVG element: title, legend,
// log-scale axes with a label per decade (dollars up, requests across),
// one path per line and a ringed marker (with its volume and a tooltip)
// at each crossover. Costs below the lowest decade shown (a free tier's
// $0) lie on the bottom axis. It is a pure function of c.
func DrawCostChart(c CostChart) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart cost" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="sans-serif" font-size="11">`+"\n", chartW, costH, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%.0f" y="18" font-size="13" font-weight="600">%s</text>`+"\n", plotLeft, esc(c.Title))
	x := plotLeft
	for i, l := range c.Lines {
		fmt.Fprintf(&b, `<g class="legend s%d"><line x1="%.0f" y1="36" x2="%.0f" y2="36" stroke-width="3" stroke="%s"/><text x="%.0f" y="40">%s</text></g>`+"\n",
			i%maxSeries, x, x+14, seriesColours[i%maxSeries], x+18, esc(l.Name))
		x += float64(6*len(l.Name) + 30)
	}
	if len(c.Volumes) < 2 || c.Volumes[0] <= 0 {
		fmt.Fprintf(&b, `<text class="nodata" x="%.0f" y="%.0f" text-anchor="middle">no data</text>`+"\n", (plotLeft+plotRight)/2, (costTop+costBottom)/2)
		b.WriteString("</svg>")
		return b.String()
	}
	lo, hi := math.Log10(c.Volumes[0]), math.Log10(c.Volumes[len(c.Volumes)-1])
	xOf := func(v float64) float64 { return plotLeft + (math.Log10(v)-lo)/(hi-lo)*(plotRight-plotLeft) }
	ticks := costTicks(c.Lines)
	ylo, yhi := math.Log10(ticks[0]), math.Log10(ticks[len(ticks)-1])
	yOf := func(v float64) float64 {
		l := ylo
		if v > 0 {
			l = math.Max(ylo, math.Log10(v))
		}
		return costBottom - (l-ylo)/(yhi-ylo)*(costBottom-costTop)
	}
	var decades []float64
	for d := math.Ceil(lo - 1e-9); d <= hi+1e-9; d++ {
		decades = append(decades, math.Pow(10, d))
	}

	b.WriteString(`<g class="grid" stroke="#eceff3">` + "\n")
	for _, v := range ticks {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`+"\n", plotLeft, yOf(v), plotRight, yOf(v))
	}
	for _, d := range decades {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`+"\n", xOf(d), costTop, xOf(d), costBottom)
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g class="axis" stroke="#9aa3b2">` + "\n")
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`+"\n", plotLeft, costTop, plotLeft, costBottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`+"\n", plotLeft, costBottom, plotRight, costBottom)
	for _, v := range ticks {
		fmt.Fprintf(&b, `<text class="ylabel" x="%.0f" y="%.1f" text-anchor="end" stroke="none" fill="#6b7385">$%s</text>`+"\n", plotLeft-6, yOf(v)+4, formatCount(v))
	}
	for _, d := range decades {
		fmt.Fprintf(&b, `<text class="xlabel" x="%.1f" y="%.0f" text-anchor="middle" stroke="none" fill="#6b7385">%s</text>`+"\n", xOf(d), costBottom+16, formatCount(d))
	}
	fmt.Fprintf(&b, `<text class="xlabel" x="%.0f" y="%.0f" text-anchor="middle" stroke="none" fill="#6b7385">requests per month (log scale); cost in USD per month</text>`+"\n", (plotLeft+plotRight)/2, costBottom+32)
	b.WriteString("</g>\n")

	for i, l := range c.Lines {
		var d strings.Builder
		for j, v := range l.Costs {
			if j >= len(c.Volumes) || !finiteValue(v) {
				continue
			}
			cmd := " L"
			if d.Len() == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f", cmd, xOf(c.Volumes[j]), yOf(v))
		}
		fmt.Fprintf(&b, `<path class="series s%d" d="%s" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`+"\n",
			i%maxSeries, d.String(), seriesColours[i%maxSeries])
	}

	byName := map[string][]float64{}
	for _, l := range c.Lines {
		byName[l.Name] = l.Costs
	}
	// Labels alternate above and below the markers, left to right, so
	// crossovers close together stay readable.
	markers := append([]CostMarker(nil), c.Markers...)
	sort.SliceStable(markers, func(i, j int) bool { return markers[i].RequestsPerMonth < markers[j].RequestsPerMonth })
	drawn := 0
	for _, m := range markers {
		costs, ok := byName[m.A]
		if !ok || m.RequestsPerMonth < c.Volumes[0] || m.RequestsPerMonth > c.Volumes[len(c.Volumes)-1] {
			continue
		}
		v := logInterp(c.Volumes, costs, m.RequestsPerMonth)
		if !finiteValue(v) {
			continue
		}
		px, py := xOf(m.RequestsPerMonth), yOf(v)
		ly := py - 8
		if drawn%2 == 1 {
			ly = py + 16
		}
		drawn++
		fmt.Fprintf(&b, `<g class="crossover"><circle cx="%.1f" cy="%.1f" r="4" fill="#fff" stroke="#1d2330" stroke-width="1.5"><title>%s = %s at %s requests/month ($%s)</title></circle><text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#1d2330" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text></g>`+"\n",
			px, py, esc(m.A), esc(m.B), formatCount(m.RequestsPerMonth), formatMoney(v), px, ly, formatCount(m.RequestsPerMonth))
	}
	b.WriteString("</svg>")
	return b.String()
}

// costTicks are the decades of dollars the y axis spans: from the
// decade below the smallest positive cost (at most six decades below the
// largest, and at most $1) to the decade above the largest.
func costTicks(lines []CostLine) []float64 {
	lo, hi := math.Inf(1), 0.0
	for _, l := range lines {
		for _, v := range l.Costs {
			if finiteValue(v) && v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	top := math.Ceil(math.Log10(hi) - 1e-9)
	bottom := math.Min(math.Floor(math.Log10(lo)+1e-9), 0)
	bottom = math.Max(bottom, top-6)
	if bottom >= top {
		bottom = top - 1
	}
	var out []float64
	for d := bottom; d <= top; d++ {
		out = append(out, math.Pow(10, d))
	}
	return out
}

// logInterp is costs at x, interpolated linearly in log10(x) between
// the volumes around it.
func logInterp(volumes, costs []float64, x float64) float64 {
	n := min(len(volumes), len(costs))
	for i := 1; i < n; i++ {
		if x <= volumes[i] {
			a, b := math.Log10(volumes[i-1]), math.Log10(volumes[i])
			f := (math.Log10(x) - a) / (b - a)
			return costs[i-1] + f*(costs[i]-costs[i-1])
		}
	}
	return math.NaN()
}

// formatCount prints a volume or a dollar amount briefly: 0.01, 100k,
// 1M, 12.5M, 1B.
func formatCount(v float64) string {
	switch {
	case v > 0 && v < 1:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
	case v >= 1e9:
		return trimFloat(v/1e9) + "B"
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// formatMoney prints dollars with cents: 1,234.50.
func formatMoney(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	whole, cents, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var out []byte
	for i := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, whole[i])
	}
	if neg {
		return "-" + string(out) + "." + cents
	}
	return string(out) + "." + cents
}

func finiteValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
