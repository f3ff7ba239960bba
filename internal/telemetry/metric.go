package telemetry

import "time"

// Key names one time series. Instance "" is the stage as a whole; Stage ""
// is the stack as a whole (builds).
type Key struct{ Stack, Stage, Instance, Metric string }

// Point is one value of a series: for the period starting at T (10 s,
// 5 min or the query's step).
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Kind is how a metric aggregates over time: "counter", "gauge" or
// "latency".
type Kind = string

const (
	// Counter values are per period (requests in that 10 s); they sum.
	Counter Kind = "counter"
	// Gauge values are sampled levels; they average.
	Gauge Kind = "gauge"
	// Latency values are quantiles of the period's request durations.
	Latency Kind = "latency"
)

// MetricInfo describes one metric.
type MetricInfo struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	Kind Kind   `json:"kind"`
	Help string `json:"help"`
}

// Metric names (stable: alarms and dashboards store them).
const (
	Requests          = "requests"
	Status2xx         = "status_2xx"
	Status3xx         = "status_3xx"
	Status4xx         = "status_4xx"
	Status5xx         = "status_5xx"
	Errors            = "errors"
	P50Latency        = "p50_latency_ms"
	P90Latency        = "p90_latency_ms"
	P99Latency        = "p99_latency_ms"
	CPUPercent        = "cpu_percent"
	MemoryMB          = "memory_mb"
	Instances         = "instances"
	ColdStarts        = "cold_starts"
	Concurrency       = "concurrency"
	Throttles         = "throttles"
	GBSeconds         = "gb_seconds"
	BuildsSucceeded   = "builds_succeeded"
	BuildsFailed      = "builds_failed"
	ReleasesSucceeded = "releases_succeeded"
	ReleasesFailed    = "releases_failed"
)

var catalogue = []MetricInfo{
	{Requests, "count", Counter, "requests answered (any status), including those the gateway refused"},
	{Status2xx, "count", Counter, "responses with a 2xx status"},
	{Status3xx, "count", Counter, "responses with a 3xx status"},
	{Status4xx, "count", Counter, "responses with a 4xx status (throttles included)"},
	{Status5xx, "count", Counter, "responses with a 5xx status"},
	{Errors, "count", Counter, "server errors: responses with a 5xx status (the same as status_5xx)"},
	{P50Latency, "ms", Latency, "median request latency, gateway in to response end"},
	{P90Latency, "ms", Latency, "90th percentile request latency"},
	{P99Latency, "ms", Latency, "99th percentile request latency"},
	{CPUPercent, "percent", Gauge, "CPU use in percent of the instance's vCPU (the stage's: the instances' average)"},
	{MemoryMB, "MB", Gauge, "memory use (the stage's: the instances' sum)"},
	{Instances, "count", Gauge, "running instances of the stage"},
	{ColdStarts, "count", Counter, "requests that waited for a new instance to start (serverless)"},
	{Concurrency, "count", Gauge, "requests in flight, averaged over the period (total request time / period)"},
	{Throttles, "count", Counter, "requests the gateway answered 429 itself (throttling, quotas, serverless queue full)"},
	{GBSeconds, "GB-s", Counter, "serverless billed duration × memory, as Lambda bills it"},
	{BuildsSucceeded, "count", Counter, "builds that succeeded (stack-wide: Stage is empty)"},
	{BuildsFailed, "count", Counter, "builds that failed or timed out (stack-wide: Stage is empty)"},
	{ReleasesSucceeded, "count", Counter, "releases that became active on the stage"},
	{ReleasesFailed, "count", Counter, "releases that failed on the stage"},
}

var byName = func() map[string]MetricInfo {
	m := make(map[string]MetricInfo, len(catalogue))
	for _, mi := range catalogue {
		m[mi.Name] = mi
	}
	return m
}()

// Metrics lists every metric with its unit, kind and description.
func Metrics() []MetricInfo { return append([]MetricInfo(nil), catalogue...) }

// Lookup returns a metric's description; ok is false for an unknown name.
func Lookup(name string) (MetricInfo, bool) {
	mi, ok := byName[name]
	return mi, ok
}

// stored is the metric a name is stored under: errors is status_5xx.
func stored(metric string) string {
	if metric == Errors {
		return Status5xx
	}
	return metric
}
