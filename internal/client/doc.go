// Package client is the typed Go client of Slipway's /v1 API, used by
// the CLI and by black-box tests. It also holds the client-side parts of
// deploying: packing a directory as a build context (honouring
// .dockerignore) and scaffolding starters.
package client
