// Package lint checks CloudFormation templates the way cfn-lint does, for
// the subset that slipway's exporter needs: every resource's Properties
// against its resource provider schema (a small JSON Schema validator for
// the keywords those schemas use, with intrinsic functions accepted where
// a scalar or a list is expected), and the template's cross-references
// (Ref, Fn::GetAtt, Fn::Sub, conditions, DependsOn, a conditional
// resource referred to only where its condition holds, unused parameters
// and conditions), its sections and resource attributes, and its Rules
// (parameters only, rule functions only there). It is used by tests; it
// never talks to AWS.
//
// Patterns Go's RE2 cannot express (lookarounds, \p{Print}: 9 of the 63
// in the schemas) are not checked; format keywords are not checked.
package lint
