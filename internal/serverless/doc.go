// Package serverless runs the serverless architecture: stages whose
// instances exist only while requests need them, as on AWS Lambda.
//
// The Controller is the stages' activator (it implements the gateway's
// Upstreams for their routes). A request takes a free concurrency slot
// on a warm instance, thawing it if it is frozen; otherwise it starts a
// new instance (a cold start) while the stage is under max_instances;
// otherwise it waits in a bounded queue and is throttled with 429 and
// Retry-After. Cold starts take a container from a small pool of
// created-but-not-started ones at the stage's release, so a cold start is
// a start plus readiness, polled every millisecond.
//
// Each request is then served by the activator itself (gateway.Backend's
// Serve), which enforces Lambda's limits: the stage's timeout (504, and
// the instance is replaced), its memory (an OOM kill answers 502 saying
// so) and the 6 MB payload limit (413 for requests, 502 for responses).
// An http handler is proxied to; a lambda handler is spoken to through
// the Lambda Runtime API (package lambda), with API Gateway events.
//
// Every request is metered (billed ms, GB-seconds, cold start and init
// time) through Config.Meter. Instances idle past the stage's idle time
// are removed, down to min_instances, so a stage scales to zero.
//
// Serverless instances carry the namespace and server labels but not
// core.LabelManaged, so the container controller never mistakes them for
// its own. They are not adopted across a server restart: a new server
// removes them and starts afresh (the Runtime API connections of lambda
// instances die with the old server anyway).
package serverless
