// Package registry owns Slipway's embedded OCI registry: the distribution
// API that docker push/pull and the pipeline talk to, its basic-auth gate,
// and the Go-side view of what it stores (tags, digests, repository
// deletion), and the garbage collection that reclaims what no tag reaches
// while the registry keeps serving (gc.go).
//
// It wraps github.com/distribution/distribution/v3 with the filesystem
// storage driver under one directory. It must not know about stacks,
// stages or releases (callers pass plain repository names), must not start
// listeners (the server mounts Handler on its own listener), and must not
// talk to Docker. Distribution's redis, notifications, proxy and health
// pollers stay off.
//
// Importing distribution has process-wide effects this package cannot
// avoid: its health package registers /debug/health (and expvar
// /debug/vars) on http.DefaultServeMux, so the server must never serve
// DefaultServeMux; and its logging goes through the global logrus logger,
// which New reroutes to slog (see logging.go).
package registry
