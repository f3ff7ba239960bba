// Package manifest parses the files a user keeps in their source tree:
// slipway.yml, which declares a stack (core.StackSpec), and AWS-CodeBuild-
// style buildspecs (build.yml, release.yml), which declare build phases.
//
// Parsing is strict on purpose: an unknown key, a wrong type or a value out
// of range is an error, never silently ignored, and every error is one line
// "file:line:col: what is wrong; what is allowed" so that the CLI, the API
// and an editor can point at the exact spot. Errors carry core.CodeInvalid.
// The one exception is a buildspec's CodeBuild keys that Slipway does not
// implement (cache, reports, run-as, ...): they are ignored, and said so in
// Buildspec.Warnings, in the same file:line:col form.
//
// The package only turns bytes into values: it does no I/O, knows nothing
// about stores, Docker or HTTP, and does not decide whether a parsed value is
// supported by the rest of Slipway (the service layer does that). The rules
// of a stage's scale and serverless specs belong to core
// (core.ScaleSpec.Problems, core.ServerlessSpec.Problems); this package reads
// the values, merges the top-level block with the stage's (layer.go) and
// points core's findings at the right line. A stage's endpoint (gateway or
// balancer) is layered the same way, but its rules are checked here as the
// values are read, until core has an EndpointSpec.Problems (endpoint.go);
// a stage's routes are checked against the stack's stage names (route.go).
// JSONSchema gives editors the same rules as Parse.
package manifest
