// Package kubeschema validates Kubernetes manifests against the official
// schemas kept in the repository's shared schema directory: the
// standalone-strict JSON schemas of Kubernetes' built-in kinds and the
// openAPIV3Schema of CustomResourceDefinitions (Knative's Service). It is
// a small JSON Schema validator for the keywords those schemas use, meant
// for tests of the Kubernetes exporter; it never talks to a cluster.
//
// It is stricter than an API server in one way on purpose: a field that a
// CRD's structural schema does not declare is an error (the server would
// silently prune it), unless the schema preserves unknown fields.
package kubeschema
