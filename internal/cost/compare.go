package cost

// Option is one architecture × endpoint combination, priced.
type Option struct {
	Architecture string   `json:"architecture"`
	Endpoint     string   `json:"endpoint"`
	Estimate     Estimate `json:"estimate"`
}

// Crossover is where two options cost the same.
type Crossover struct {
	A, B string // "container+balancer" etc.
	// RequestsPerMonth is the break-even volume, 0 if the costs do not
	// cross between 1,000 and 10 billion requests a month.
	RequestsPerMonth float64
}

// Comparison prices the four combinations for one profile.
type Comparison struct {
	Options        []Option    `json:"options"` // the four, cheapest first
	Crossovers     []Crossover `json:"crossovers"`
	Recommendation string      `json:"recommendation"`
}

// Compare prices the four combinations of architecture × endpoint for
// the profile.
func Compare(t *Table, s Stage, p Profile) Comparison {
	return Comparison{}
}

// Curve prices the four combinations at each request volume (the
// profile's rates scaled with requests), for plots. Keys are
// "container+gateway", "container+balancer", "serverless+gateway",
// "serverless+balancer".
func Curve(t *Table, s Stage, p Profile, requests []float64) map[string][]float64 {
	return map[string][]float64{}
}
