// Package telemetry is Slipway's embedded metrics store and its
// Prometheus exposition; no external TSDB.
//
// Ingestion is cheap on the request path: the gateway's OnRequest hook
// calls ObserveRequest, which adds to the open window's accumulators of
// the stage and of the instance (status-class counts, throttles, cold
// starts, busy time, a latency histogram with fixed log-spaced buckets)
// under one lock: about 230 ns a request (BenchmarkObserveRequest). The Sampler sets gauges (instances, and per instance
// cpu_percent and memory_mb, with the stage's average and sum) every
// 10 s; Add feeds counters (gb_seconds, builds and releases outcomes).
//
// Every 10 s (Run) the open window closes into one point per series
// that has data, its latency quantiles computed from the window's
// histogram. Every 5 min a coarse point is made: counters summed and
// gauges averaged from the period's 10 s points, latency quantiles from
// the period's merged histograms (not from the 10 s quantiles). 10 s
// points are kept 48 h, 5 min points 90 days. Query reads them, at the
// native resolution or re-aggregated to a step (a stage's latency
// quantiles from merged histograms where they are kept).
//
// Memory and disk are bounded. Only series with data exist; counters'
// zeros are not stored (a counter of a stage that had data reads 0).
// Points are float32 in chunks with implicit time slots (an hour of 10 s
// points, a day of 5 min points); full chunks are sealed into varint
// deltas of quantized values (see encode). Instances keep requests,
// errors, p99 latency, CPU and memory; stages keep every metric. Series
// of an instance gone longer than the retention are forgotten, and new
// series past Config.MaxSeries (DefaultMaxSeries, 5,000) are dropped
// with a logged warning. Stages also keep their 10 s latency histograms
// for 48 h (memory only), so that a query's step merges them. Measured
// (BenchmarkMemoryAtFullRetention): 50 stages of 5 instances at full
// retention are 1,500 series and 174 MB of heap with noise drawn afresh
// every point (a worst case: about 100 KB a series, 500 KB of
// histograms a stage), so the cap bounds memory at about 750 MB. On disk a
// point takes about 6 bytes: the same 1,500 series at full retention
// are about 390 MB of segment files.
//
// Persistence: closed points are appended to segment files under
// <data-dir>/metrics (an hour of 10 s points or a day of 5 min points
// per file, checksummed records), replayed at start, and deleted past
// retention; a crash loses at most the open window (and the latency
// histograms of the 5 min period in progress, whose coarse quantiles
// then come from the largest 10 s quantile). Replay takes about 0.4 s per
// 100 series at full retention (BenchmarkLoad): some 6 s for the 1,500
// above, before the server listens.
//
// Handler serves /metrics in Prometheus exposition format through
// client_golang: cumulative counters since the server started, a latency
// histogram, the latest gauges, and the Go and process collectors.
//
// This package must not import the server's components: the server
// feeds it (gateway hook, Sampler source, service hooks) and hands the
// *Store to its readers (API, dashboard, alarms).
package telemetry
