package export

import (
	"github.com/slipwayhq/slipway/internal/core"
)

// Stack is what an exporter needs to know of one stack: its slipway.yml
// (with every stage's effective settings) and, per stage, what the state
// store knows that slipway.yml does not.
type Stack struct {
	Spec   core.StackSpec
	Stages []Stage // in pipeline order; only the stages asked for
	// Domain is the gateway's domain (stages are <stage>.<stack>.<domain>).
	Domain string
	// BuildVars are the stack's build variables (`env set --build`).
	BuildVars map[string]string
}

// Stage is one stage to export.
type Stage struct {
	Spec core.StageSpec
	// Image is the image the stage serves (registry reference with a
	// digest), or "" when it has never been released.
	Image string
	// Env is the stage's plain environment (slipway.yml's and `slipway env
	// set`'s); Secrets holds the secret variables' names, with their values
	// only when the export asked to include them (else "").
	Env     map[string]string
	Secrets map[string]string
	// Domains are the stage's custom domains.
	Domains []string
	// Alarms are the stage's metric alarms.
	Alarms []core.Alarm
}

// Options tune an export.
type Options struct {
	// IncludeSecrets puts secret values in the output (Kubernetes Secrets);
	// without it only their names appear.
	IncludeSecrets bool
}

// File is one emitted file, by its path relative to the output directory.
type File struct {
	Name string
	Data []byte
	// Warnings say what of the stack this file could not carry over
	// (a feature the target has no equivalent for); the CLI prints them.
	Warnings []string
}

// Exporter turns a stack into files of another platform's format.
type Exporter interface {
	// Name is the format's name as `slipway export --format` takes it.
	Name() string
	Export(s Stack, opts Options) ([]File, error)
}
