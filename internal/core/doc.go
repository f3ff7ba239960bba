// Package core holds Slipway's domain types and rules: stacks, stages,
// builds, releases, instances, and the typed errors the API maps to HTTP.
//
// It does no I/O and imports nothing internal, so every other package can
// depend on it and its rules can be table-tested without Docker.
package core
