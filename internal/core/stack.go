package core

import "time"

// Architecture is how a stack's instances run.
type Architecture string

const (
	ArchContainer  Architecture = "container"  // always-on replicas (ECS-like)
	ArchServerless Architecture = "serverless" // scale to zero (Lambda-like)
)

// Defaults applied when slipway.yml leaves a field out.
const (
	DefaultPort         = 8000
	DefaultHealthPath   = "/healthy"
	DefaultDockerfile   = "Dockerfile"
	DefaultStage        = "dev"
	DefaultStartTimeout = 60 * time.Second
	DefaultMemoryMB     = 512
	DefaultCPU          = 0.25 // vCPU
	DefaultPidsLimit    = 256
)

// StackSpec is what slipway.yml declares about a stack. It travels with
// every build, so the latest successful build's spec is the stack's config.
type StackSpec struct {
	Name         string       `json:"name"`
	Architecture Architecture `json:"architecture"`
	Port         int          `json:"port"`
	Health       HealthSpec   `json:"healthcheck"`
	Build        BuildSpec    `json:"build"`
	Stages       []StageSpec  `json:"stages"`
}

// HealthSpec says how to probe an instance before routing to it.
type HealthSpec struct {
	// Path is probed with GET; a 2xx or 3xx answer means healthy.
	Path string `json:"path"`
	// Explicit is false when Path is the default, in which case a 404 on
	// /healthy falls back to probing "/".
	Explicit bool `json:"explicit"`
	// StartTimeout bounds how long a new instance may take to turn healthy.
	StartTimeout Duration `json:"start_timeout"`
}

// BuildSpec says how to build the stack's image.
type BuildSpec struct {
	Dockerfile string `json:"dockerfile"`
	// Image, when set, runs build.yml and release.yml inside a container
	// of this image (with the Docker socket mounted) instead of on the host.
	Image string `json:"image,omitempty"`
}

// StageSpec is one environment of a stack, in pipeline order.
type StageSpec struct {
	Name string            `json:"name"`
	Env  map[string]string `json:"env,omitempty"`
	// Approval holds releases at this stage until `slipway approve`.
	Approval bool        `json:"approval,omitempty"`
	Scale    ScaleSpec   `json:"scale"`
	Network  NetworkSpec `json:"network"`
	// Serverless is set for the serverless architecture (Scale then is
	// unused).
	Serverless ServerlessSpec `json:"serverless,omitzero"`
	// Endpoint is the stage's front door. It is zero when slipway.yml sets
	// no endpoint block anywhere: use EffectiveEndpoint.
	Endpoint EndpointSpec `json:"endpoint,omitzero"`
	// Routes send path prefixes of the stage's host to other stages.
	Routes []Route `json:"routes,omitempty"`
}

// Stage returns the named stage spec.
func (s *StackSpec) Stage(name string) (StageSpec, bool) {
	for _, st := range s.Stages {
		if st.Name == name {
			return st, true
		}
	}
	return StageSpec{}, false
}

// FirstStage is the stage a new build is released to.
func (s *StackSpec) FirstStage() string {
	if len(s.Stages) == 0 {
		return DefaultStage
	}
	return s.Stages[0].Name
}

// Stack is a stack as stored: its current spec plus bookkeeping.
type Stack struct {
	Name string    `json:"name"`
	Spec StackSpec `json:"spec"`
	// Awaiting maps a stage that asks for approval to the build waiting
	// for it.
	Awaiting map[string]string `json:"awaiting,omitempty"`
	// Vars and Secrets are set with `slipway env set` per stage, on top
	// of slipway.yml's env; secrets are sealed (secrets.Box), never plain.
	Vars    map[string]map[string]string `json:"vars,omitempty"`
	Secrets map[string]map[string]string `json:"secrets,omitempty"`
	// Repo is the external repository the stack watches, if any.
	Repo *RepoSource `json:"repo,omitempty"`
	// BuildVars are the stack's build variables (`env set --build`).
	BuildVars map[string]string `json:"build_vars,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Hostname is the gateway host of a stage: <stage>.<stack>.<domain>.
func Hostname(stack, stage, domain string) string {
	return stage + "." + stack + "." + domain
}

// RepoSource is an external git repository a stack builds from: pushes
// reach Slipway by webhook or by polling.
type RepoSource struct {
	// URL is shown to users; with credentials in it, they are redacted
	// here and the whole URL is kept sealed in SealedURL.
	URL       string   `json:"url"`
	SealedURL string   `json:"sealed_url,omitempty"`
	Branch    string   `json:"branch"`
	Poll      Duration `json:"poll,omitempty"` // 0: webhooks only
	// WebhookSecret is sealed (secrets.Box); it signs GitHub webhooks
	// and is GitLab's token.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}
