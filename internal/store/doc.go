// Package store declares how Slipway persists its state: stacks, builds,
// releases, which release each stage serves, and server settings.
//
// Implementations live in subpackages named after their backend
// (store/sqlite is the embedded default) and must pass storetest.Run.
// The store holds no business rules; it keeps what the service decides.
package store
