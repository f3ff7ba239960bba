package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/pipeline"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/store"
)

// Controller runs a stack's instances (container.Controller).
type Controller interface {
	Rollout(ctx context.Context, rel core.Release, progress func(string), activate func(context.Context) error) error
	Abort(stack, stage string) (string, error)
	RemoveStack(ctx context.Context, stack string) error
	Instances(stack string) []core.Instance
	StageInfo(stack, stage string) core.StageRuntime
	Logs(ctx context.Context, stack, stage string, opts engine.LogOptions, w io.Writer) error
	Kick()
}

// Serverless is the serverless controller: a Controller for serverless
// stacks that also invokes a stage directly.
type Serverless interface {
	Controller
	// Invoke hands a raw event to one of a lambda stage's instances (a
	// cold start if need be) and returns the function's response payload.
	Invoke(ctx context.Context, stack, stage string, event []byte) ([]byte, error)
}

// UsageReader sums a serverless stage's metered invocations.
type UsageReader interface {
	Usage(ctx context.Context, stack, stage string, since, until time.Time) (core.Usage, error)
}

// Source is each stack's git remote (source.Remote).
type Source interface {
	Ensure(stack string) error
	Remove(stack string) error
	Archive(ctx context.Context, stack, commit string, w io.Writer) error
	// Checkout makes dir (holding the commit's files) a git work tree.
	Checkout(ctx context.Context, stack, commit, dir string) error
	// Resolve is a branch's (or any revision's) commit.
	Resolve(ctx context.Context, stack, rev string) (string, error)
}

// Registry is what the service needs of the embedded registry.
type Registry interface {
	DeleteRepository(ctx context.Context, repo string) error
	// Digest is a tag's manifest digest (CodeNotFound if there is none).
	Digest(ctx context.Context, repo, tag string) (string, error)
	// Untag removes a tag (missing is not an error).
	Untag(ctx context.Context, repo, tag string) error
	// CollectGarbage deletes, registry-wide, what no tag reaches and was
	// written more than grace ago.
	CollectGarbage(ctx context.Context, grace time.Duration) (registry.GCStats, error)
}

var _ Registry = (*registry.Registry)(nil)

// Config wires a Service.
type Config struct {
	Store      store.Store
	Engine     engine.Engine
	Images     *pipeline.Images
	Controller Controller
	// Logs keeps the runtime, build, release and access logs; builds and
	// releases write theirs to it (optional: without it, no logs).
	Logs LogStore
	// OnChange, when set, is called after API keys or domains change.
	OnChange func()
	// OnOutcome, when set, is told of every build and release that
	// succeeded or failed (see Outcome).
	OnOutcome func(Outcome)
	// Serverless runs serverless stacks; without it they are refused.
	Serverless Serverless
	Usage      UsageReader
	Registry   Registry
	Source     Source  // nil: no git remote
	Sealer     Sealer  // seals stage secrets; nil: no secrets
	Opener     Opener  // opens webhook secrets
	Fetcher    Fetcher // fetches external repositories
	Logger     *slog.Logger

	Domain      string
	GatewayPort string // the gateway's port, for URLs ("8080")
	DataDir     string // builds' temp dirs and logs live under it
	// ServerID labels the build containers this server runs.
	ServerID     string
	BuildTimeout time.Duration // bound on a build: build.yml phases, image build and push (default 1h)
	KeepImages   int           // images kept per stack by retention (default 25)
	// Exporters are the formats `slipway export` writes, by Name.
	Exporters []export.Exporter
}

// Service implements Slipway's use cases.
type Service struct {
	cfg Config
	log *slog.Logger
	ctx context.Context // the server's lifetime; jobs outlive requests

	wg      sync.WaitGroup // running jobs
	mu      sync.Mutex
	jobs    map[string]*Job        // by stack/build, while running
	stackMu map[string]*sync.Mutex // held while releasing
	runs    map[string]*runQueue   // a stack's pipeline runs take turns
	queueMu sync.Mutex             // held while a build is numbered and queued
}

// New returns a Service whose jobs run until ctx ends.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.BuildTimeout == 0 {
		cfg.BuildTimeout = time.Hour
	}
	if cfg.KeepImages == 0 {
		cfg.KeepImages = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Serverless != nil {
		cfg.Controller = &byArchitecture{container: cfg.Controller, serverless: cfg.Serverless, store: cfg.Store}
	}
	for _, d := range []string{cfg.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "service"), ctx: ctx,
		jobs: map[string]*Job{}, stackMu: map[string]*sync.Mutex{}, runs: map[string]*runQueue{}}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (c Config) tmpDir() string { return filepath.Join(c.DataDir, "tmp") }

// recover marks builds and releases that a previous server left running
// as failed: their jobs died with it. What was serving keeps serving.
func (s *Service) recover(ctx context.Context) error {
	os.RemoveAll(s.cfg.tmpDir())
	os.MkdirAll(s.cfg.tmpDir(), 0o700)
	// Build containers of builds the last server ran died with it.
	if s.cfg.ServerID != "" {
		left, err := s.cfg.Engine.ListContainers(ctx, map[string]string{core.LabelTask: "build", core.LabelServer: s.cfg.ServerID})
		if err != nil {
			s.log.Warn("list leftover build containers", "err", err)
		}
		for _, c := range left {
			if err := s.cfg.Engine.RemoveContainer(ctx, c.ID); err != nil {
				s.log.Warn("remove leftover build container", "container", c.ID, "err", err)
			}
		}
	}
	stacks, err := s.cfg.Store.ListStacks(ctx)
	if err != nil {
		return fmt.Errorf("read stacks: %w", err)
	}
	for _, st := range stacks {
		builds, err := s.cfg.Store.ListBuilds(ctx, st.Name)
		if err != nil {
			return err
		}
		for _, b := range builds {
			if b.Status == core.BuildRunning {
				b.Status, b.Error = core.BuildInterrupted, interruptedBuild
				// End its event log too, so a replay does not hang open.
				newJob(st.Name, b.ID, s.buildLog(st.Name)).emit(core.Event{Type: core.EventError, Code: core.CodeBuildFailed, Message: b.Error})
				now := time.Now().UTC()
				b.FinishedAt = &now
				if err := s.cfg.Store.PutBuild(ctx, b); err != nil {
					return err
				}
			}
		}
		rels, err := s.cfg.Store.ListReleases(ctx, st.Name, "")
		if err != nil {
			return err
		}
		for _, r := range rels {
			if r.Status == core.ReleasePending {
				r.Status, r.Error = core.ReleaseFailed, "interrupted: the server stopped during the rollout"
				if err := s.cfg.Store.PutRelease(ctx, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Wait blocks until every job has returned (they stop when the server's
// context ends), so the store can be closed under none of them.
func (s *Service) Wait() { s.wg.Wait() }

// URL is where a stage is served through the gateway.
func (s *Service) URL(stack, stage string) string {
	host := core.Hostname(stack, stage, s.cfg.Domain)
	if s.cfg.GatewayPort != "" && s.cfg.GatewayPort != "80" {
		host += ":" + s.cfg.GatewayPort
	}
	return "http://" + host + "/"
}

// lockStack serializes what changes a stack's releases.
func (s *Service) lockStack(stack string) func() { return s.lockIn(s.stackMu, stack) }

// runQueue is the line a stack's pipeline runs (build, then release)
// wait in, one at a time, first come first served.
func (s *Service) runQueue(stack string) *runQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.runs[stack]
	if !ok {
		q = &runQueue{}
		s.runs[stack] = q
	}
	return q
}

// lockRuns waits for the stack's pipeline runs, queued before it, to end
// and holds off later ones until the returned func is called.
func (s *Service) lockRuns(stack string) func() {
	q := s.runQueue(stack)
	<-q.enqueue()
	return q.done
}

func (s *Service) lockIn(locks map[string]*sync.Mutex, stack string) func() {
	s.mu.Lock()
	m, ok := locks[stack]
	if !ok {
		m = &sync.Mutex{}
		locks[stack] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// CreateStack registers an empty stack; deploying creates it too.
func (s *Service) CreateStack(ctx context.Context, name string) (core.Stack, error) {
	if err := core.ValidateStackName(name); err != nil {
		return core.Stack{}, err
	}
	now := time.Now().UTC()
	st := core.Stack{Name: name, CreatedAt: now, UpdatedAt: now, Spec: core.StackSpec{
		Name: name, Architecture: core.ArchContainer, Port: core.DefaultPort,
		Health: core.HealthSpec{Path: core.DefaultHealthPath, StartTimeout: core.Duration(core.DefaultStartTimeout)},
		Build:  core.BuildSpec{Dockerfile: core.DefaultDockerfile},
		Stages: []core.StageSpec{{Name: core.DefaultStage}},
	}}
	if err := s.cfg.Store.CreateStack(ctx, st); err != nil {
		return core.Stack{}, err
	}
	s.ensureRemote(name)
	s.cfg.Controller.Kick()
	return st, nil
}

// ensureRemote gives a stack its git remote; a failure only costs the
// remote, so it is logged, not returned.
func (s *Service) ensureRemote(stack string) {
	if s.cfg.Source == nil {
		return
	}
	if err := s.cfg.Source.Ensure(stack); err != nil {
		s.log.Warn("create git remote", "stack", stack, "err", err)
	}
}

// Logs writes a stack's instance logs (one stage, or all if stage is "").
func (s *Service) Logs(ctx context.Context, stack, stage string, opts engine.LogOptions, w io.Writer) error {
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return err
	}
	if stage != "" {
		if _, ok := st.Spec.Stage(stage); !ok {
			return core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
		}
	}
	return s.cfg.Controller.Logs(ctx, stack, stage, opts, w)
}

func stageNames(spec core.StackSpec) string {
	out := ""
	for i, st := range spec.Stages {
		if i > 0 {
			out += ", "
		}
		out += st.Name
	}
	return out
}
