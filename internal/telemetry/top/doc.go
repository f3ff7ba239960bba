// Package top computes the current figures of every stage (requests/s,
// p99 latency, 5xx errors, CPU, instances) from the metrics store's latest
// points, for `slipway top` and GET /v1/top. It reads the store through a
// query function and the stacks through a lister; it keeps nothing.
package top
