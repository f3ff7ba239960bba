// Package container runs container-architecture stages: it starts a
// release's instances, waits for them to turn healthy, swaps routes,
// retires the previous release, keeps probing health, and adopts the
// instances it finds after a server restart by their labels.
//
// Deciding is kept apart from acting: Classify and Routes are pure
// functions over observed data; Controller applies what they decide.
// It never touches the store's history; the service owns that.
package container
