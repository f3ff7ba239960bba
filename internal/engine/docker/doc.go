// Package docker implements engine.Engine on the Docker Engine API
// (API >= 1.41, i.e. Docker 20.10 and later) through the moby client.
//
// It owns the translation between Slipway's engine terms and Docker's:
// the security settings every instance gets (no-new-privileges, all
// capabilities dropped, no published ports, bounded json-file logs), the
// parsing of build and push message streams, the demultiplexing of log
// and exec streams, the reading of stats samples, and the mapping of Docker failures onto core error codes
// (unreachable daemon → CodeUnavailable, unknown object → CodeNotFound,
// failed build → CodeBuildFailed).
//
// It must not make decisions: what to run, when to restart or how many
// instances to keep belong to the controllers above it. Docker types never
// leave this package.
package docker
