package cost

import "testing"

func TestCharge(t *testing.T) {
	flat := Price{USD: 0.20, Per: 1e6, Unit: "request", Free: 1e6}
	tiered := Price{USD: 0.0000166667, Per: 1, Unit: "GB-second", Free: 400000,
		Tiers: []Tier{{6e9, 0.0000166667}, {15e9, 0.000015}, {0, 0.0000133334}}}
	for _, c := range []struct {
		name  string
		p     Price
		q     float64
		cost  float64
		arith string
	}{
		{"within free", flat, 999_999, 0, "999,999 requests, within the 1,000,000 requests free = $0.00"},
		{"past free", flat, 3.5e6, 0.5, "3,500,000 requests − 1,000,000 requests free: 2,500,000 requests × $0.20 / 1M = $0.50"},
		{"no free", Price{USD: 0.045, Per: 1, Unit: "hour"}, 730, 32.85, "730 hours × $0.045 = $32.85"},
		{"zero", Price{USD: 0.045, Per: 1, Unit: "hour"}, 0, 0, "0 hours × $0.045 = $0.00"},
		// Lambda's 2025 duration tiers at 10B GB-s:
		// (6B − 400,000 free) × $0.0000166667 = $100,000.2 − $6.66668 = $99,993.53332
		// + (10B − 6B) × $0.000015 = $60,000; total $159,993.53332
		{"free then tiers", tiered, 10e9, 159993.53332,
			"10,000,000,000 GB-s − 400,000 GB-s free: 5,999,600,000 GB-s × $0.0000166667 + 4,000,000,000 GB-s × $0.000015 = $159,993.53"},
	} {
		label := map[string]string{"request": "requests", "GB-second": "GB-s", "hour": "hours"}[c.p.Unit]
		cost, arith := charge(c.p, c.q, label)
		if d := cost - c.cost; d > 1e-6 || d < -1e-6 || arith != c.arith {
			t.Errorf("%s: charge = %.6f, %q\nwant %.6f, %q", c.name, cost, arith, c.cost, c.arith)
		}
	}
}

func TestFormatting(t *testing.T) {
	for got, want := range map[string]string{
		usd(1234.567): "$1,234.57", usd(0): "$0.00", rate(1): "$1.00", rate(0.0000166667): "$0.0000166667",
		qty(432e6): "432,000,000", qty(10000.0 / 60): "166.6667", per(1e6): " / 1M", per(1): "",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
