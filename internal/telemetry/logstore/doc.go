// Package logstore keeps a stack's four logs on disk: runtime (instance
// stdout and stderr), build, release and access. Each stream (stack,
// stage, kind) is a directory of NDJSON segment files under
// <data-dir>/logs/<stack>/<stage>/<kind>/; build logs belong to a stack,
// not a stage, and live under the stage directory "_stack" (a name no
// stage can have: stage names start with a letter).
//
// Every entry is one JSON object whose first field is "time". The store
// does not know the rest of the shape: access entries keep accesslog's
// fields, build and release entries are pipeline events, runtime entries
// are Line. Segments rotate by size and by UTC day; retention deletes
// whole oldest segments, by age and by a size cap per stream, on every
// rotation and on a periodic sweep.
//
// Writes are buffered and flushed on a short interval and on Close; reads
// flush the stream first, so a reader sees everything appended before it
// asked. Followers get new entries from memory, not by polling files.
//
// The runtime Collector follows every instance's Docker output into the
// store and resumes after a server restart from the last stored line.
//
// The package must not know HTTP or the CLI; the API decides formats.
package logstore
