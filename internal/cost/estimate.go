package cost

// LineItem is one charge of a monthly estimate.
type LineItem struct {
	Service    string  `json:"service"` // "Lambda", "Fargate", "API Gateway", "ALB", "NAT Gateway", "CloudWatch Logs", "ECR", "Data transfer"
	Item       string  `json:"item"`    // "requests", "GB-seconds", "vCPU-hours", "LCU-hours", ...
	Quantity   float64 `json:"quantity"`
	Unit       string  `json:"unit"`
	UnitPrice  float64 `json:"unit_price"` // USD per Unit (the first paid tier's, for tiered prices)
	Cost       float64 `json:"cost"`       // USD per month
	Arithmetic string  `json:"arithmetic"` // e.g. "10,000,000 requests × $0.20 / 1M = $2.00"
	Source     string  `json:"source"`     // the price's source page name and date
}

// Estimate is a stage's monthly cost on AWS under one price table.
type Estimate struct {
	Table       string     `json:"table"`
	Stage       Stage      `json:"stage"`
	Profile     Profile    `json:"profile"`
	Items       []LineItem `json:"items"`
	Total       float64    `json:"total"`
	Assumptions []string   `json:"assumptions"`
}

// EstimateStage prices a month of the profile's traffic on the stage.
func EstimateStage(t *Table, s Stage, p Profile) Estimate {
	e := Estimate{Table: t.Name, Stage: s, Profile: p}
	return e
}
