// Package container runs container-architecture stages like ECS services:
// N replicas of a release behind the gateway, health checks with
// thresholds, crash restarts with exponential backoff, zero-downtime
// rollouts that fail fast, CPU target-tracking autoscaling, and adoption
// of running instances after a server restart.
//
// Each pass observes the engine, updates what it knows of every instance
// (health, crashes, CPU), asks reconcile.Compute for a plan, and applies
// it. The deciding parts (reconcile.Compute, Autoscale, Routes) are pure;
// this package only observes and acts. It never writes release history;
// the service does, through the activate callback of Rollout.
package container
