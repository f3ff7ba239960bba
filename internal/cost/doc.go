// Package cost models what a Slipway stage would cost on AWS: dated,
// versioned price tables (embedded data files under prices/) and a pure
// estimator over a stage's config and a month of traffic.
//
// It owns the price figures, the arithmetic and the recommendation of
// the cheaper architecture and endpoint. It does no I/O beyond reading
// its embedded tables, never fetches prices, and knows nothing of HTTP,
// the store or metering: callers build the Profile.
package cost
