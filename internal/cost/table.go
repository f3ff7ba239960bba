package cost

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

//go:embed prices/*.json
var priceFiles embed.FS

// Table is one dated, versioned price table, read from an embedded data
// file prices/<name>.json. Every price carries its unit, the name of its
// source page and the date it is as of.
type Table struct {
	Name   string  `json:"name"`   // e.g. "us-east-1-2021-07"
	Region string  `json:"region"` // "us-east-1"
	Date   string  `json:"date"`   // YYYY-MM-DD the figures are as of
	Note   string  `json:"note"`
	LCU    LCUSpec `json:"alb_lcu"`
	Prices []Price `json:"prices"`
}

// Price is one list price: USD per Per Units (e.g. $0.20 per 1,000,000
// requests), optionally with a monthly free allowance and volume tiers.
type Price struct {
	ID   string  `json:"id"` // e.g. "lambda.requests"; see requiredPrices
	USD  float64 `json:"usd"`
	Per  float64 `json:"per"`  // how many Units USD buys; 1 unless priced per million
	Unit string  `json:"unit"` // singular: "request", "GB-second", "LCU-hour"
	// Free is the monthly quantity (in Units) that costs nothing.
	Free float64 `json:"free,omitempty"`
	// Tiers, when set, replace USD by volume: each applies up to Upto
	// Units of the month's total (0 = no bound), in order.
	Tiers  []Tier `json:"tiers,omitempty"`
	Source string `json:"source"` // the pricing page's name
	Date   string `json:"date"`
	Note   string `json:"note,omitempty"`
}

// Tier is one volume band of a tiered price.
type Tier struct {
	Upto float64 `json:"upto"` // Units per month, cumulative; 0 = unbounded
	USD  float64 `json:"usd"`  // per Price.Per Units
}

// LCUSpec is what one ALB load balancer capacity unit (LCU) covers, per
// dimension; an hour is billed on the largest dimension.
type LCUSpec struct {
	NewConnectionsPerSecond    float64 `json:"new_connections_per_second"`
	ActiveConnectionsPerMinute float64 `json:"active_connections_per_minute"`
	ProcessedGBPerHour         float64 `json:"processed_gb_per_hour"`
	ProcessedGBPerHourLambda   float64 `json:"processed_gb_per_hour_lambda"`
	RuleEvaluationsPerSecond   float64 `json:"rule_evaluations_per_second"`
	FreeRules                  float64 `json:"free_rules"`
	Source                     string  `json:"source"`
	Date                       string  `json:"date"`
}

// requiredPrices are the price IDs the estimator reads; a table missing
// one does not load.
var requiredPrices = []string{
	"lambda.requests", "lambda.duration", "lambda.provisioned", "lambda.provisioned_duration", "lambda.ephemeral",
	"fargate.vcpu", "fargate.memory",
	"ec2.t3.micro", "ec2.t3.small", "ec2.m3.medium", "ec2.m3.large",
	"apigw.http", "apigw.rest",
	"alb.hour", "alb.lcu",
	"nat.hour", "nat.data",
	"logs.ingest", "logs.storage",
	"ecr.storage",
	"transfer.out",
}

// Tables lists the embedded tables' names, oldest first.
func Tables() []string {
	entries, err := priceFiles.ReadDir("prices")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	slices.Sort(names) // names end in the date, so this is date order
	return names
}

// LoadTable reads and validates the named table; "" is the current
// (newest) one.
func LoadTable(name string) (*Table, error) {
	names := Tables()
	if name == "" {
		if len(names) == 0 {
			return nil, fmt.Errorf("no price tables embedded")
		}
		name = names[len(names)-1]
	}
	if !slices.Contains(names, name) {
		return nil, fmt.Errorf("unknown price table %q: allowed are %s", name, strings.Join(names, ", "))
	}
	data, err := priceFiles.ReadFile(path.Join("prices", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("read price table %s: %w", name, err)
	}
	t, err := parseTable(data)
	if err != nil {
		return nil, fmt.Errorf("price table %s: %w", name, err)
	}
	if t.Name != name {
		return nil, fmt.Errorf("price table %s: file names itself %q", name, t.Name)
	}
	return t, nil
}

// parseTable decodes a table strictly and checks that every price the
// estimator needs is there with its unit, source and date.
func parseTable(data []byte) (*Table, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if t.Name == "" || t.Region == "" || t.Date == "" {
		return nil, fmt.Errorf("name, region and date are required")
	}
	if t.LCU.NewConnectionsPerSecond <= 0 || t.LCU.ActiveConnectionsPerMinute <= 0 || t.LCU.ProcessedGBPerHour <= 0 ||
		t.LCU.ProcessedGBPerHourLambda <= 0 || t.LCU.RuleEvaluationsPerSecond <= 0 || t.LCU.Source == "" || t.LCU.Date == "" {
		return nil, fmt.Errorf("alb_lcu: every dimension must be positive, with source and date")
	}
	seen := map[string]bool{}
	for i, p := range t.Prices {
		switch {
		case p.ID == "":
			return nil, fmt.Errorf("price %d: id is required", i)
		case seen[p.ID]:
			return nil, fmt.Errorf("price %s: listed twice", p.ID)
		case p.Unit == "":
			return nil, fmt.Errorf("price %s: unit is required", p.ID)
		case p.Source == "":
			return nil, fmt.Errorf("price %s: source is required", p.ID)
		case p.Date == "":
			return nil, fmt.Errorf("price %s: date is required", p.ID)
		case p.Per <= 0:
			return nil, fmt.Errorf("price %s: per must be positive (1, or 1000000 for per-million prices)", p.ID)
		case p.USD < 0 || p.Free < 0:
			return nil, fmt.Errorf("price %s: usd and free must not be negative", p.ID)
		}
		for j, tr := range p.Tiers {
			last := j == len(p.Tiers)-1
			if tr.USD < 0 || (tr.Upto == 0) != last || (j > 0 && !last && tr.Upto <= p.Tiers[j-1].Upto) {
				return nil, fmt.Errorf("price %s: tier %d: tiers must rise, only the last is unbounded (upto 0), and prices must not be negative", p.ID, j)
			}
		}
		seen[p.ID] = true
	}
	for _, id := range requiredPrices {
		if !seen[id] {
			return nil, fmt.Errorf("price %s is missing", id)
		}
	}
	return &t, nil
}

// Price returns the price with the given ID ("lambda.requests",
// "ec2.t3.micro", ...) and whether the table has it.
func (t *Table) Price(id string) (Price, bool) {
	for _, p := range t.Prices {
		if p.ID == id {
			return p, true
		}
	}
	return Price{}, false
}

// must returns a price the loader guarantees (requiredPrices); only a
// typo in this package can panic.
func (t *Table) must(id string) Price {
	p, ok := t.Price(id)
	if !ok {
		panic("cost: no price " + id + " in table " + t.Name)
	}
	return p
}
