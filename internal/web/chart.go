package web

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Point is one sample of a time series.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Chart is what DrawChart draws: one or more series over [From, To).
type Chart struct {
	Title string
	Unit  string // shown after the title, e.g. "ms"
	From  time.Time
	To    time.Time
	// Step is the series' resolution: points further apart than twice it
	// are a gap (no data), drawn as a break in the line, not a slope.
	Step   time.Duration
	Series []Series
}

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartW      = 640
	chartH      = 220
	plotLeft    = 52.0
	plotRight   = 612.0
	plotTop     = 34.0
	plotBottom  = 190.0
	maxSeries   = 4 // colours in the stylesheet: .s0 … .s3
	yIntervals  = 4
	maxXTicks   = 7
	sparkW      = 120
	sparkH      = 28
	sparkMargin = 2.0
)

// DrawChart renders c as a standalone SVG element: title, legend, y axis
// with nice ticks and gridlines, x axis with time labels (UTC), and one
// path per series. It is a pure function of c.
func DrawChart(c Chart) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`+"\n", chartW, chartH, esc(c.Title))
	title := c.Title
	if c.Unit != "" {
		title += " (" + c.Unit + ")"
	}
	fmt.Fprintf(&b, `<text class="title" x="%.0f" y="18">%s</text>`+"\n", plotLeft, esc(title))
	// Legend, right-aligned: one swatch and name per series.
	x := plotRight
	for i := len(c.Series) - 1; i >= 0; i-- {
		name := c.Series[i].Name
		x -= float64(7*len(name) + 26)
		fmt.Fprintf(&b, `<g class="legend s%d"><line x1="%.0f" y1="14" x2="%.0f" y2="14" stroke-width="3"/><text x="%.0f" y="18">%s</text></g>`+"\n",
			i%maxSeries, x, x+14, x+18, esc(name))
	}

	lo, hi := 0.0, maxValue(c.Series)
	ticks := yTicks(hi)
	hi = ticks[len(ticks)-1]
	y := func(v float64) float64 { return plotBottom - (v-lo)/(hi-lo)*(plotBottom-plotTop) }
	span := c.To.Sub(c.From)
	if span <= 0 {
		span = time.Hour
	}
	xOf := func(t time.Time) float64 {
		return plotLeft + float64(t.Sub(c.From))/float64(span)*(plotRight-plotLeft)
	}

	b.WriteString(`<g class="grid">` + "\n")
	for _, v := range ticks {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/>`+"\n", plotLeft, y(v), plotRight, y(v))
	}
	xt, layout := xTicks(c.From, c.To)
	for _, t := range xt {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`+"\n", xOf(t), plotTop, xOf(t), plotBottom)
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g class="axis">` + "\n")
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`+"\n", plotLeft, plotTop, plotLeft, plotBottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
	for _, v := range ticks {
		fmt.Fprintf(&b, `<text class="ylabel" x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", plotLeft-6, y(v)+4, formatValue(v))
	}
	for _, t := range xt {
		fmt.Fprintf(&b, `<text class="xlabel" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", xOf(t), plotBottom+16, t.UTC().Format(layout))
	}
	fmt.Fprintf(&b, `<text class="xlabel" x="%d" y="%.0f" text-anchor="end">UTC</text>`+"\n", chartW-4, plotBottom+28)
	b.WriteString("</g>\n")

	drawn := false
	for i, s := range c.Series {
		d := pathData(s.Points, c.Step, c.From, c.To, xOf, y)
		if d == "" {
			continue
		}
		drawn = true
		fmt.Fprintf(&b, `<path class="series s%d" d="%s" fill="none" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`+"\n", i%maxSeries, d)
	}
	if !drawn {
		fmt.Fprintf(&b, `<text class="nodata" x="%.0f" y="%.0f" text-anchor="middle">no data in this range</text>`+"\n", (plotLeft+plotRight)/2, (plotTop+plotBottom)/2)
	}
	b.WriteString("</svg>")
	return b.String()
}

// pathData is the SVG path of points inside [from, to], sorted by time,
// with a new subpath after every gap longer than twice step. A point
// alone in its subpath is drawn as a small ring (a dot once stroked).
func pathData(points []Point, step time.Duration, from, to time.Time, x func(time.Time) float64, y func(float64) float64) string {
	ps := make([]Point, 0, len(points))
	for _, p := range points {
		if !p.T.Before(from) && !p.T.After(to) && !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
			ps = append(ps, p)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].T.Before(ps[j].T) })
	var b strings.Builder
	segLen := 0
	for i, p := range ps {
		gap := i == 0 || (step > 0 && p.T.Sub(ps[i-1].T) > 2*step)
		if gap {
			if segLen == 1 {
				b.WriteString(dot)
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "M%.1f %.1f", x(p.T), y(p.V))
			segLen = 1
			continue
		}
		fmt.Fprintf(&b, " L%.1f %.1f", x(p.T), y(p.V))
		segLen++
	}
	if segLen == 1 {
		b.WriteString(dot)
	}
	return b.String()
}

// DrawSparkline renders points over [from, to) as a small inline SVG
// line scaled to its own maximum (a flat baseline when there is no data
// or all values are zero).
func DrawSparkline(points []Point, from, to time.Time, label string) string {
	span := to.Sub(from)
	if span <= 0 {
		span = time.Hour
	}
	hi := 0.0
	for _, p := range points {
		hi = math.Max(hi, p.V)
	}
	x := func(t time.Time) float64 {
		return sparkMargin + float64(t.Sub(from))/float64(span)*(sparkW-2*sparkMargin)
	}
	y := func(v float64) float64 {
		if hi <= 0 {
			return sparkH - sparkMargin
		}
		return sparkH - sparkMargin - v/hi*(sparkH-2*sparkMargin)
	}
	d := pathData(points, 0, from, to, x, y)
	if d == "" {
		d = fmt.Sprintf("M%.1f %.1f L%.1f %.1f", sparkMargin, sparkH-sparkMargin, sparkW-sparkMargin, sparkH-sparkMargin)
	}
	return fmt.Sprintf(`<svg class="spark" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s"><path d="%s" fill="none" stroke-width="1.5"/></svg>`,
		sparkW, sparkH, sparkW, sparkH, esc(label), d)
}

// dot draws a circle of radius 1.5 around the current point.
const dot = " m-1.5 0 a1.5 1.5 0 1 0 3 0 a1.5 1.5 0 1 0 -3 0"

func maxValue(series []Series) float64 {
	hi := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				hi = math.Max(hi, p.V)
			}
		}
	}
	return hi
}

// yTicks are yIntervals+1 evenly spaced round values from 0 covering hi:
// the interval is 1, 2, 2.5 or 5 times a power of ten.
func yTicks(hi float64) []float64 {
	if hi <= 0 {
		hi = 1
	}
	raw := hi / yIntervals
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	out := make([]float64, yIntervals+1)
	for i := range out {
		out[i] = step * float64(i)
	}
	return out
}

// xTicks picks round times in [from, to], at most maxXTicks of them, and
// the layout to print them with.
func xTicks(from, to time.Time) ([]time.Time, string) {
	span := to.Sub(from)
	steps := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= maxXTicks {
			step = s
			break
		}
	}
	layout := "15:04"
	if step >= 24*time.Hour {
		layout = "Jan 2"
	}
	var out []time.Time
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			out = append(out, t)
		}
	}
	return out, layout
}

// formatValue prints an axis value briefly: 0, 2.5, 40, 1.5k, 2M.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(math.Round(v/1e3)/1e3, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(math.Round(v)/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
	}
}

func esc(s string) string { return html.EscapeString(s) }
