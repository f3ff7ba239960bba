// Package engine declares the container runtime seam Slipway runs stacks
// on. The real implementation is engine/docker (Docker Engine API >= 1.41).
//
// The interface is deliberately small and speaks Slipway's terms: callers
// never see Docker types, and security settings (no privileges, no
// published ports) are not options a caller can turn off.
package engine
