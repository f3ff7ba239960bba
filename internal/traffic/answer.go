package traffic

import "github.com/slipwayhq/slipway/internal/cost"

// The cost API's answers, shared by the API, its client and the
// dashboard. Source says where the profile came from: "flags" (figures
// given, defaults for the rest) or "usage" (metered over Window,
// extrapolated to 30 days); Notes say how, one line each.

// StageCost is a stage's monthly estimate.
type StageCost struct {
	Stack    string        `json:"stack"`
	Stage    string        `json:"stage"`
	Source   string        `json:"source"`
	Window   string        `json:"window,omitempty"`
	Notes    []string      `json:"notes"`
	Estimate cost.Estimate `json:"estimate"`
}

// StageComparison is the four architecture × endpoint options for a
// stage's profile, cheapest first, with their crossovers.
type StageComparison struct {
	Stack      string          `json:"stack"`
	Stage      string          `json:"stage"`
	Table      string          `json:"table"`
	Source     string          `json:"source"`
	Window     string          `json:"window,omitempty"`
	Notes      []string        `json:"notes"`
	Profile    cost.Profile    `json:"profile"`
	Comparison cost.Comparison `json:"comparison"`
}

// SpecCost estimates every stage of a stack's config (slipway.yml)
// before it is deployed, under one profile.
type SpecCost struct {
	Stack   string          `json:"stack"`
	Table   string          `json:"table"`
	Notes   []string        `json:"notes"`
	Profile cost.Profile    `json:"profile"`
	Stages  []StageEstimate `json:"stages"`
	Total   float64         `json:"total"` // USD per month, all stages
}

// StageEstimate is one stage's part of a SpecCost.
type StageEstimate struct {
	Stage    string        `json:"stage"`
	Estimate cost.Estimate `json:"estimate"`
}

// TableInfo names a price table.
type TableInfo struct {
	Name    string `json:"name"`
	Region  string `json:"region"`
	Date    string `json:"date"`
	Default bool   `json:"default,omitempty"` // used when none is named
}

// Sources of a profile.
const (
	SourceFlags = "flags"
	SourceUsage = "usage"
)

// OptionOrder is the plot's order of the four options (and their
// colours): the keys of cost.Curve.
var OptionOrder = []string{"container+gateway", "container+balancer", "serverless+gateway", "serverless+balancer"}
