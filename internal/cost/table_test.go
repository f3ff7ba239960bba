package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTablesLoadAndCarryUnitSourceDate(t *testing.T) {
	names := Tables()
	if len(names) < 2 || names[0] != "us-east-1-2021-07" {
		t.Fatalf("Tables() = %v, want the July 2021 table first and a current one", names)
	}
	for _, n := range names {
		tb := load(t, n)
		if tb.Region != "us-east-1" || !strings.HasPrefix(n, tb.Region+"-") || !strings.HasPrefix(tb.Date, strings.TrimPrefix(n, tb.Region+"-")) {
			t.Errorf("%s: region %q, date %q do not match the name", n, tb.Region, tb.Date)
		}
		for _, p := range tb.Prices {
			if p.Unit == "" || p.Source == "" || p.Date != tb.Date {
				t.Errorf("%s: %s: unit %q, source %q, date %q", n, p.ID, p.Unit, p.Source, p.Date)
			}
		}
	}
	cur, err := LoadTable("")
	if err != nil || cur.Name != names[len(names)-1] {
		t.Fatalf(`LoadTable("") = %v, %v; want the newest table %s`, cur, err, names[len(names)-1])
	}
	_, err = LoadTable("us-east-1-1999-01")
	if err == nil || !strings.Contains(err.Error(), "us-east-1-2021-07, ") {
		t.Errorf("unknown table: err = %v, want one listing the allowed names", err)
	}
}

// The figures the issue names, and the rules that changed since 2021.
func TestTableFigures(t *testing.T) {
	old, cur := t2021(t), load(t, "us-east-1-2025-01")
	for _, c := range []struct {
		tb        *Table
		id        string
		usd, free float64
	}{
		{old, "lambda.requests", 0.20, 1e6},
		{old, "lambda.duration", 0.0000166667, 400000},
		{old, "lambda.ephemeral", 0, 0}, // fixed 512 MB /tmp in 2021
		{cur, "lambda.ephemeral", 0.0000000309, 0},
		{old, "alb.lcu", 0.008, 0},
		{old, "apigw.http", 1.00, 0},
		{old, "apigw.rest", 3.50, 0},
		{old, "transfer.out", 0.09, 1}, // 1 GB free until 2021-12-01
		{cur, "transfer.out", 0.09, 100},
		{old, "ec2.t3.micro", 0.0104, 0},
	} {
		p := c.tb.must(c.id)
		if firstPaid(p) != c.usd || p.Free != c.free {
			t.Errorf("%s %s = $%v (free %v), want $%v (free %v)", c.tb.Name, c.id, firstPaid(p), p.Free, c.usd, c.free)
		}
	}
	if l := old.LCU; l.NewConnectionsPerSecond != 25 || l.ActiveConnectionsPerMinute != 3000 || l.ProcessedGBPerHour != 1 || l.RuleEvaluationsPerSecond != 1000 {
		t.Errorf("LCU dimensions = %+v", l)
	}
}

// parseTable refuses a table with a price lacking its unit, source or
// date, a missing price, or malformed tiers.
func TestParseTableRejects(t *testing.T) {
	data, err := priceFiles.ReadFile("prices/us-east-1-2021-07.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseTable(data); err != nil {
		t.Fatalf("the July 2021 table: %v", err)
	}
	edit := func(f func(m map[string]any, prices []any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m, m["prices"].([]any))
		b, _ := json.Marshal(m)
		return b
	}
	price := func(prices []any, id string) map[string]any {
		for _, p := range prices {
			if p.(map[string]any)["id"] == id {
				return p.(map[string]any)
			}
		}
		t.Fatalf("no %s", id)
		return nil
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"no unit", "price nat.hour: unit is required", edit(func(_ map[string]any, ps []any) { delete(price(ps, "nat.hour"), "unit") })},
		{"no source", "price ecr.storage: source is required", edit(func(_ map[string]any, ps []any) { price(ps, "ecr.storage")["source"] = "" })},
		{"no date", "price alb.lcu: date is required", edit(func(_ map[string]any, ps []any) { delete(price(ps, "alb.lcu"), "date") })},
		{"no per", "price alb.hour: per must be positive", edit(func(_ map[string]any, ps []any) { delete(price(ps, "alb.hour"), "per") })},
		{"missing price", "price fargate.vcpu is missing", edit(func(m map[string]any, ps []any) {
			var keep []any
			for _, p := range ps {
				if p.(map[string]any)["id"] != "fargate.vcpu" {
					keep = append(keep, p)
				}
			}
			m["prices"] = keep
		})},
		{"duplicate", "price nat.data: listed twice", edit(func(m map[string]any, ps []any) { m["prices"] = append(ps, price(ps, "nat.data")) })},
		{"unbounded tier first", "price apigw.http: tier 0", edit(func(_ map[string]any, ps []any) {
			price(ps, "apigw.http")["tiers"] = []any{map[string]any{"upto": 0, "usd": 1}, map[string]any{"upto": 5, "usd": 1}}
		})},
		{"falling tiers", "price apigw.rest: tier 2", edit(func(_ map[string]any, ps []any) {
			price(ps, "apigw.rest")["tiers"].([]any)[2].(map[string]any)["upto"] = 1
		})},
		{"negative", "price logs.ingest: usd and free must not be negative", edit(func(_ map[string]any, ps []any) { price(ps, "logs.ingest")["usd"] = -1 })},
		{"unknown field", `unknown field "colour"`, edit(func(_ map[string]any, ps []any) { price(ps, "nat.data")["colour"] = "red" })},
		{"no date on the table", "name, region and date are required", edit(func(m map[string]any, _ []any) { delete(m, "date") })},
		{"LCU without source", "alb_lcu: every dimension must be positive", edit(func(m map[string]any, _ []any) {
			delete(m["alb_lcu"].(map[string]any), "source")
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTable(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// The tables as read, one price a line, against testdata/golden/table-*.golden.
func TestTableGolden(t *testing.T) {
	for _, n := range Tables() {
		tb := load(t, n)
		var b strings.Builder
		fmt.Fprintf(&b, "%s  %s  as of %s\n%s\n", tb.Name, tb.Region, tb.Date, tb.Note)
		fmt.Fprintf(&b, "ALB LCU: %g new conn/s, %g active conn/min, %g GB/h (%g for Lambda), %g rule evals/s (%g rules free)  [%s, %s]\n",
			tb.LCU.NewConnectionsPerSecond, tb.LCU.ActiveConnectionsPerMinute, tb.LCU.ProcessedGBPerHour, tb.LCU.ProcessedGBPerHourLambda,
			tb.LCU.RuleEvaluationsPerSecond, tb.LCU.FreeRules, tb.LCU.Source, tb.LCU.Date)
		for _, p := range tb.Prices {
			fmt.Fprintf(&b, "%-28s %s%s per %s", p.ID, rate(p.USD), per(p.Per), p.Unit)
			if p.Free > 0 {
				fmt.Fprintf(&b, ", first %s free", qty(p.Free))
			}
			for _, tr := range p.Tiers {
				if tr.Upto == 0 {
					fmt.Fprintf(&b, "; %s above", rate(tr.USD))
				} else {
					fmt.Fprintf(&b, "; %s up to %s", rate(tr.USD), qty(tr.Upto))
				}
			}
			fmt.Fprintf(&b, "  [%s, %s]\n", p.Source, p.Date)
		}
		golden(t, "table-"+n, b.String())
	}
}

// golden compares got with testdata/golden/<name>.golden, or rewrites
// it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cost -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (go test ./internal/cost -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}
