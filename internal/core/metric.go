package core

import "time"

// MetricSeries is one metric of a stage (or of one of its instances)
// over a window, as GET /v1/stacks/{stack}/stages/{stage}/metrics
// answers it.
type MetricSeries struct {
	Stack    string        `json:"stack"`
	Stage    string        `json:"stage"`
	Instance string        `json:"instance,omitempty"`
	Metric   string        `json:"metric"`
	Unit     string        `json:"unit"`
	Kind     string        `json:"kind"` // counter, gauge or latency
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Step     Duration      `json:"step"` // 0: native (10 s within 48 h, 5 min before)
	Points   []MetricPoint `json:"points"`
}

// MetricPoint is a metric's value for the period starting at T.
type MetricPoint struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// MetricInfo describes a stored metric (GET /v1/metrics).
type MetricInfo struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	Kind string `json:"kind"`
	Help string `json:"help"`
}
