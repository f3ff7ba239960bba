// Package source owns the git side of a stack's source: the built-in,
// per-stack git remote that users `git push` to over smart HTTP, and the
// read access the pipeline needs to a pushed commit (Resolve, Archive).
//
// The remote is the stock `git http-backend` run through net/http/cgi,
// behind basic auth whose password is checked by a caller-supplied func.
// A push is detected by diffing the repository's refs before and after a
// receive-pack request, under a per-repository lock, so every ref change is
// reported to OnPush exactly once without installing hooks.
//
// It must not know about pipelines, stages, builds or the store: it reports
// pushes and serves trees, and the caller decides what a push means. It
// must not start listeners (the server mounts Handler on the API listener),
// must not compare tokens itself (Config.Token does, in constant time), and
// must not hand the server's environment to git: subprocesses get PATH and
// HOME only, plus what each git command needs.
package source
