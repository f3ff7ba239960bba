// Package reconcile decides, and only decides: Compute takes what each
// stage should run and what the engine shows, and returns a Plan of
// instances to start, restart and stop, what to route, which rollouts
// are ready to swap and which must abort. It does no I/O and keeps no
// state between calls, so the same inputs always give the same plan and
// a restarted server picks up exactly where the last one stopped.
package reconcile
