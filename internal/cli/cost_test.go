package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/client"
)

func TestCostFormats(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 8.499: "$8.50", 1234.5: "$1,234.50", 1234567.891: "$1,234,567.89", -3: "-$3.00"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{950: "950", 1500: "1.5k", 1e6: "1M", 18.027e6: "18M", 48.153e6: "48.2M", 186.133e6: "186M", 2.5e9: "2.5B", 1.234e6: "1.23M"} {
		if got := count(v); got != want {
			t.Errorf("count(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPrintStageCost(t *testing.T) {
	e := client.StageCost{Stack: "shop", Stage: "dev", Source: "usage", Window: "24h", Notes: []string{"from 24h of metered usage"},
		Estimate: client.CostEstimate{Table: "us-east-1-2021-07", Stage: client.CostStage{Architecture: "serverless", Endpoint: "gateway", MemoryMB: 512, TimeoutMS: 3000},
			Items: []client.CostLineItem{{Service: "Lambda", Item: "requests", Cost: 2, Arithmetic: "10,000,000 requests × $0.20 / 1M = $2.00"}},
			Total: 2, Assumptions: []string{"a month is 730 hours"}}}
	e.Estimate.Profile.RequestsPerMonth, e.Estimate.Profile.DurationMS = 1e7, 120
	var b bytes.Buffer
	if err := printStageCost(&b, e); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Stage dev of shop: serverless + gateway, 512 MB, timeout 3000 ms", "10M requests/month, 120 ms mean (metered over the last 24h, extrapolated to 30 days)",
		"10,000,000 requests × $0.20 / 1M = $2.00", "TOTAL", "$2.00", "  - from 24h of metered usage", "  - a month is 730 hours"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
