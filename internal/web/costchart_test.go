package web

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func costVolumes() []float64 {
	var v []float64
	for i := 0; i <= 8; i++ {
		v = append(v, 1e5*math.Pow(10, float64(i)/2))
	}
	return v // 100k, 316k, 1M, … 1B
}

// TestDrawCostChartGolden compares each case's SVG with testdata/charts/<name>.svg.
func TestDrawCostChartGolden(t *testing.T) {
	vol := costVolumes()
	lines := []CostLine{
		{Name: "container+gateway", Costs: []float64{9.1, 9.3, 10, 12.2, 19, 41, 110, 326, 1010}},
		{Name: "container+balancer", Costs: []float64{25.2, 25.2, 25.3, 25.6, 26.5, 29.4, 38.5, 67, 157}},
		{Name: "serverless+gateway", Costs: []float64{0, 0, 0, 2.9, 12.5, 43, 139, 444, 1408}},
		{Name: "serverless+balancer", Costs: []float64{16.4, 16.4, 16.4, 18.6, 26, 49.7, 124.6, 361, 1110}},
	}
	cases := map[string]CostChart{
		"cost-four": {Title: "Monthly cost of dev on AWS (us-east-1-2021-07)", Volumes: vol, Lines: lines,
			Markers: []CostMarker{{A: "serverless+gateway", B: "container+gateway", RequestsPerMonth: 6.5e6},
				{A: "serverless+gateway", B: "container+balancer", RequestsPerMonth: 1.3e7},
				{A: "container+gateway", B: "container+balancer", RequestsPerMonth: 3.4e6},
				{A: "nope", B: "container+balancer", RequestsPerMonth: 1e6}, // unknown line: no marker
				{A: "container+gateway", B: "x", RequestsPerMonth: 5e9}}},   // out of range: no marker
		"cost-empty": {Title: "No volumes <&>", Lines: lines},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := DrawCostChart(c) + "\n"
			wellFormed(t, got)
			golden(t, name+".svg", got)
		})
	}
}

// TestDrawCostChartShape checks what the golden file shows: four paths,
// a legend entry per line, a label per decade, three markers.
func TestDrawCostChartShape(t *testing.T) {
	vol := costVolumes()
	c := CostChart{Title: "t", Volumes: vol, Markers: []CostMarker{{A: "a", B: "b", RequestsPerMonth: 1e7}}}
	for _, n := range []string{"a", "b", "c", "d"} {
		c.Lines = append(c.Lines, CostLine{Name: n, Costs: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}})
	}
	svg := DrawCostChart(c)
	count := map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			count[se.Name.Local]++
		}
	}
	if count["path"] != 4 || count["circle"] != 1 {
		t.Errorf("paths %d, circles %d; want 4 and 1", count["path"], count["circle"])
	}
	for _, l := range []string{">100k<", ">1M<", ">10M<", ">100M<", ">1B<", ">$10<", ">$1<"} {
		if !strings.Contains(svg, l) {
			t.Errorf("no label %s", l)
		}
	}
	// 1e7 is the fifth volume (cost 5); 10^6.25 lies halfway (in log) between 1M (3) and 3.16M (4).
	if got := logInterp(vol, c.Lines[0].Costs, 1e7); math.Abs(got-5) > 1e-9 {
		t.Errorf("logInterp = %v, want 5", got)
	}
	if got := logInterp(vol, c.Lines[0].Costs, math.Pow(10, 6.25)); math.Abs(got-3.5) > 1e-9 {
		t.Errorf("logInterp between points = %v, want 3.5", got)
	}
}

func TestFormatMoneyAndCount(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 8.499: "8.50", 1234.5: "1,234.50", 1234567.891: "1,234,567.89"} {
		if got := formatMoney(v); got != want {
			t.Errorf("formatMoney(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{1e5: "100k", 1e6: "1M", 1.26e7: "13M", 2.5e6: "2.5M", 1e9: "1B", 500: "500"} {
		if got := formatCount(v); got != want {
			t.Errorf("formatCount(%v) = %q, want %q", v, got, want)
		}
	}
}
