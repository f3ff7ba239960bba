// Package service holds Slipway's use cases: deploy (build, then release
// to the first stage), status, logs and delete. It composes the store, the
// pipeline and the controller, owns build and release history, and knows
// nothing of HTTP.
package service
