// Package traffic turns what a user or the meters say about a stage's
// traffic into the cost model's monthly profile (cost.Profile): from
// figures given as flags or query parameters, with documented defaults
// for the rest, or from a stage's metered usage over a window,
// extrapolated to 30 days. It also says which cost.Stage a stage's status
// describes and which request volumes a cost plot spans.
//
// Everything here is a pure function over plain data; reading the
// metrics store and the access log is the caller's (api, web). It must
// not price anything: that is internal/cost's.
package traffic
