package web

import (
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/charts/*.svg from DrawChart's and DrawSparkline's output")

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ramp(from time.Time, step time.Duration, vals ...float64) []Point {
	out := make([]Point, len(vals))
	for i, v := range vals {
		out[i] = Point{T: from.Add(time.Duration(i) * step), V: v}
	}
	return out
}

// TestDrawChartGolden compares each case's SVG with testdata/charts/<name>.svg.
func TestDrawChartGolden(t *testing.T) {
	gappy := append(ramp(t0, time.Minute, 12, 15, 11), ramp(t0.Add(20*time.Minute), time.Minute, 40, 38, 45, 52)...)
	gappy = append(gappy, Point{T: t0.Add(40 * time.Minute), V: 30}) // alone: a dot
	cases := map[string]Chart{
		"empty": {Title: "Requests", Unit: "per minute", From: t0, To: t0.Add(time.Hour), Step: time.Minute},
		"requests-1h": {Title: "Requests", Unit: "per 5 min", From: t0, To: t0.Add(time.Hour), Step: 5 * time.Minute,
			Series: []Series{{Name: "requests", Points: ramp(t0, 5*time.Minute, 0, 10, 30, 120, 90, 60, 61, 62, 300, 250, 20, 0)}}},
		"latency-gap": {Title: "Latency", Unit: "ms", From: t0, To: t0.Add(time.Hour), Step: time.Minute,
			Series: []Series{{Name: "p50", Points: gappy}, {Name: "p99", Points: ramp(t0, time.Minute, 80, 95, 120)}}},
		"errors-24h-zero": {Title: "Errors", Unit: "per minute", From: t0.Add(-24 * time.Hour), To: t0, Step: 15 * time.Minute,
			Series: []Series{{Name: "4xx", Points: ramp(t0.Add(-2*time.Hour), 15*time.Minute, 0, 0, 0, 0)}, {Name: "5xx", Points: ramp(t0.Add(-2*time.Hour), 15*time.Minute, 0, 0, 0, 0)}}},
		"cpu-7d-escaped": {Title: "CPU <&>", Unit: "%", From: t0.Add(-7 * 24 * time.Hour), To: t0, Step: time.Hour,
			Series: []Series{{Name: "cpu \"x\"", Points: ramp(t0.Add(-7*24*time.Hour), 12*time.Hour, 1.5, 2.25, 80, 3, 0.4, 7, 9, 12, 0.1, 0.2, 0.3, 0.4, 1, 2)}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := DrawChart(c) + "\n"
			wellFormed(t, got)
			golden(t, name+".svg", got)
		})
	}
	t.Run("sparkline", func(t *testing.T) {
		got := DrawSparkline(ramp(t0, 5*time.Minute, 1, 4, 2, 8, 0, 3), t0, t0.Add(time.Hour), "requests per minute") + "\n"
		wellFormed(t, got)
		golden(t, "sparkline.svg", got)
	})
	t.Run("sparkline-empty", func(t *testing.T) {
		got := DrawSparkline(nil, t0, t0.Add(time.Hour), "no requests") + "\n"
		wellFormed(t, got)
		golden(t, "sparkline-empty.svg", got)
	})
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", "charts", file)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/web -run Golden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (rerun with -update if the change is meant):\n--- got\n%s", path, got)
	}
}

// wellFormed fails unless s parses as XML from start to end.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, s)
		}
	}
}

func TestPathDataGaps(t *testing.T) {
	x := func(tm time.Time) float64 { return float64(tm.Sub(t0) / time.Minute) }
	y := func(v float64) float64 { return v }
	cases := []struct {
		name   string
		points []Point
		step   time.Duration
		want   string
	}{
		{"none", nil, time.Minute, ""},
		{"one point is a dot", ramp(t0, time.Minute, 5), time.Minute, "M0.0 5.0" + dot},
		{"contiguous", ramp(t0, time.Minute, 1, 2, 3), time.Minute, "M0.0 1.0 L1.0 2.0 L2.0 3.0"},
		{"a gap breaks the line", append(ramp(t0, time.Minute, 1, 2), Point{T: t0.Add(5 * time.Minute), V: 3}), time.Minute, "M0.0 1.0 L1.0 2.0 M5.0 3.0" + dot},
		{"step 0 never breaks", append(ramp(t0, time.Minute, 1), Point{T: t0.Add(5 * time.Minute), V: 3}), 0, "M0.0 1.0 L5.0 3.0"},
		{"unsorted input is sorted", []Point{{t0.Add(time.Minute), 2}, {t0, 1}}, time.Minute, "M0.0 1.0 L1.0 2.0"},
		{"outside the range is dropped", []Point{{t0.Add(-time.Minute), 9}, {t0, 1}, {t0.Add(2 * time.Hour), 9}}, time.Minute, "M0.0 1.0" + dot},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pathData(c.points, c.step, t0, t0.Add(time.Hour), x, y); got != c.want {
				t.Errorf("pathData = %q, want %q", got, c.want)
			}
		})
	}
}

func TestYTicks(t *testing.T) {
	cases := []struct {
		hi   float64
		want []float64
	}{
		{0, []float64{0, 0.25, 0.5, 0.75, 1}},
		{1, []float64{0, 0.25, 0.5, 0.75, 1}},
		{7, []float64{0, 2, 4, 6, 8}},
		{10, []float64{0, 2.5, 5, 7.5, 10}},
		{11, []float64{0, 5, 10, 15, 20}},
		{300, []float64{0, 100, 200, 300, 400}},
		{1234, []float64{0, 500, 1000, 1500, 2000}},
	}
	for _, c := range cases {
		if got := yTicks(c.hi); !reflect.DeepEqual(got, c.want) {
			t.Errorf("yTicks(%v) = %v, want %v", c.hi, got, c.want)
		}
	}
}

func TestXTicks(t *testing.T) {
	cases := []struct {
		span       time.Duration
		wantN      int
		wantLayout string
		wantFirst  string
	}{
		{time.Hour, 6, "15:04", "10:10"},           // 10:02-11:02, every 10 min
		{24 * time.Hour, 4, "15:04", "12:00"},      // 11:02-11:02, every 6 h
		{7 * 24 * time.Hour, 7, "Jan 2", "Nov 16"}, // every day
	}
	for _, c := range cases {
		from := t0.Add(2 * time.Minute).Add(-c.span + time.Hour)
		ticks, layout := xTicks(from, from.Add(c.span))
		if layout != c.wantLayout || len(ticks) == 0 || len(ticks) > maxXTicks {
			t.Fatalf("span %s: %d ticks, layout %q", c.span, len(ticks), layout)
		}
		if len(ticks) != c.wantN || ticks[0].Format(layout) != c.wantFirst {
			t.Errorf("span %s: %d ticks from %s, want %d from %s", c.span, len(ticks), ticks[0].Format(layout), c.wantN, c.wantFirst)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 2.5: "2.5", 0.30000000000000004: "0.3", 40: "40", 1500: "1.5k", 2_000_000: "2M", 1234567: "1.235M"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
