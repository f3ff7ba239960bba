package manifest

import (
	_ "embed"
	"slices"
)

// schema is hand-written for readability in editors; schema_test.go keeps
// its keys, enums, defaults and limits in step with the parser.
//
//go:embed slipway.schema.json
var schema []byte

// JSONSchema returns a JSON Schema (draft 2020-12) of slipway.yml, with
// descriptions, defaults and enums, for editors such as yaml-language-server.
// Parse stays the authority: a few rules (unique stage names, duration
// ranges, a Dockerfile path escaping through a subdirectory, scale and
// serverless rules across two keys or between the top-level and a stage's
// block, such as min <= max or memory for an inherited cpu, the
// architecture a block belongs to, a schedule's expression in full, an
// endpoint block of the other kind, whole seconds, a route's stage being
// one of the stack's, unique route paths, a CORS origin "*" with
// credentials) cannot be said in a schema.
// The caller owns the returned slice.
func JSONSchema() []byte { return slices.Clone(schema) }
