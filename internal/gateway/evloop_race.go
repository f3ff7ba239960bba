//go:build race && linux

package gateway

// raceEnabled: the race detector runs, and the event loops read and
// write through package syscall, whose Read and Write tell it that a
// write happens before the read of what it wrote, as the runtime's
// poller's do; raw system calls would hide that from it.
const raceEnabled = true
