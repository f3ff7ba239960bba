// Package server is the composition root: it turns flags into components
// (store, engine, registry, gateway, controller, service, API), runs them
// as one process, and shuts them down gracefully. Instances are never
// stopped on shutdown; the next start adopts them by their labels.
package server
