// Package pipeline runs build jobs: a buildspec's phases (build.yml) on
// the host in a throwaway copy of the source, then the image build in the
// container engine, then the push to the embedded registry.
//
// It reports progress as core.Events and never touches what is running:
// releasing a built image is the service's and the controller's job, so a
// failed build cannot disturb a serving stage.
package pipeline
