package container

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/reconcile"
	"github.com/slipwayhq/slipway/internal/store"
)

// Config wires a Controller. Zero durations get the defaults noted.
type Config struct {
	Engine    engine.Engine
	Store     store.Store
	Publish   func([]gateway.Route) // receives every new route table
	Domain    string
	Namespace string // "" is the default namespace
	// ServerID marks the instances of one server (one data dir), so two
	// servers sharing a Docker daemon never take each other's instances
	// for orphans.
	ServerID string
	Logger   *slog.Logger
	// OpenSecret opens a release's sealed secret at instance start.
	OpenSecret func(sealed string) (string, error)

	Tick          time.Duration // pass interval while something changes (100ms)
	IdleTick      time.Duration // pass interval when all is steady (1s)
	StartupProbe  time.Duration // probe interval of instances not yet healthy (100ms)
	StatsInterval time.Duration // CPU sampling for the autoscaler (5s)
	StatsWindow   time.Duration // the autoscaler averages over this (30s)
}

// Controller keeps container-architecture stages running, healthy,
// scaled and routed.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	prober *prober

	mu        sync.Mutex
	insts     map[string]*tracked // by container ID
	stages    map[reconcile.Key]*stageState
	releases  map[string]core.Release // cache, by stack/release ID
	published []gateway.Route

	syncMu   sync.Mutex // one pass at a time
	kick     chan struct{}
	wg       sync.WaitGroup // retiring instances
	adopting bool           // the first pass: instances found were serving before
}

// stageState is what the controller keeps per stage between passes.
type stageState struct {
	count   int // desired instances; -1 until first computed
	rollout *rollout
	lastOut time.Time
	lastIn  time.Time
	crash   *core.CrashInfo // the serving release's last crash
}

// rollout is a release on its way to serving a stage.
type rollout struct {
	rel        core.Release
	activate   func(context.Context) error
	progress   func(string)
	done       chan error // receives exactly once
	started    time.Time
	reported   int  // healthy instances last reported
	activating bool // the swap has begun: too late to abort
}

// New returns a controller; call Run to start it.
func New(cfg Config) *Controller {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Tick, 100*time.Millisecond)
	def(&cfg.IdleTick, time.Second)
	def(&cfg.StartupProbe, 100*time.Millisecond)
	def(&cfg.StatsInterval, 5*time.Second)
	def(&cfg.StatsWindow, 30*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "container"),
		prober:   newProber(),
		insts:    map[string]*tracked{},
		stages:   map[reconcile.Key]*stageState{},
		releases: map[string]core.Release{},
		kick:     make(chan struct{}, 1),
		adopting: true,
	}
}

// Labels selects everything this controller manages.
func (c *Controller) Labels() map[string]string {
	return map[string]string{core.LabelManaged: "true", core.LabelNamespace: c.namespace(), core.LabelServer: c.cfg.ServerID}
}

func (c *Controller) namespace() string {
	if c.cfg.Namespace == "" {
		return "default"
	}
	return c.cfg.Namespace
}

// NetworkName is the Docker network of a stack: slipway-<stack>, or
// slipway-<namespace>-<stack> outside the default namespace.
func (c *Controller) NetworkName(stack string) string {
	if c.cfg.Namespace == "" {
		return "slipway-" + stack
	}
	return "slipway-" + c.cfg.Namespace + "-" + stack
}

// Run observes the engine (events plus periodic passes) until ctx ends.
// The event stream is resubscribed when it breaks (a Docker daemon
// restart, say); passes go on meanwhile, so instances are re-adopted as
// soon as the daemon answers again.
func (c *Controller) Run(ctx context.Context) {
	events := make(chan struct{}, 1)
	go c.watch(ctx, events)
	go c.scaleLoop(ctx)
	for {
		busy, err := c.pass(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("sync failed", "err", err)
		}
		wait := c.cfg.IdleTick
		if busy {
			wait = c.cfg.Tick
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-c.kick:
		case <-events:
		}
	}
}

// watch forwards engine events as wake-ups, resubscribing with backoff.
func (c *Controller) watch(ctx context.Context, wake chan<- struct{}) {
	backoff := time.Second
	for ctx.Err() == nil {
		evs, errs := c.cfg.Engine.Events(ctx, c.Labels())
		ok := true
		for ok {
			select {
			case <-ctx.Done():
				return
			case _, ok = <-evs:
				if ok {
					backoff = time.Second
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			case err, open := <-errs:
				if open && err != nil && ctx.Err() == nil {
					c.log.Warn("engine events stopped; resubscribing", "err", err, "in", backoff)
				}
				ok = false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// Kick asks Run for a pass soon.
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Wait blocks until instances being retired are gone.
func (c *Controller) Wait() { c.wg.Wait() }

// Sync runs one pass now.
func (c *Controller) Sync(ctx context.Context) error {
	_, err := c.pass(ctx)
	return err
}

// Instances returns what the controller knows of a stack's instances
// ("" for all stacks).
func (c *Controller) Instances(stack string) []core.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []core.Instance
	for _, t := range c.insts {
		if stack == "" || t.inst.Stack == stack {
			out = append(out, t.view())
		}
	}
	return out
}

// StageInfo reports a stage's desired count, rollout and last crash.
func (c *Controller) StageInfo(stack, stage string) core.StageRuntime {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stages[reconcile.Key{Stack: stack, Stage: stage}]
	if st == nil {
		return core.StageRuntime{}
	}
	info := core.StageRuntime{Desired: max(st.count, 0), Crash: st.crash}
	if st.rollout != nil {
		info.RollingOut = st.rollout.rel.ID
	}
	return info
}

// publish sends the route table if it changed.
func (c *Controller) publish(routes []gateway.Route) {
	c.mu.Lock()
	changed := !reflect.DeepEqual(routes, c.published)
	if changed {
		c.published = routes
	}
	c.mu.Unlock()
	if changed && c.cfg.Publish != nil {
		c.cfg.Publish(routes)
	}
}

func (c *Controller) release(ctx context.Context, stack, id string) (core.Release, error) {
	key := stack + "/" + id
	c.mu.Lock()
	rel, ok := c.releases[key]
	c.mu.Unlock()
	if ok {
		return rel, nil
	}
	rel, err := c.cfg.Store.GetRelease(ctx, stack, id)
	if err != nil {
		return rel, err
	}
	c.mu.Lock()
	c.releases[key] = rel
	c.mu.Unlock()
	return rel, nil
}

// event records a stage event; failures only get logged.
func (c *Controller) event(k reconcile.Key, typ, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.cfg.Store.AddEvent(ctx, core.StageEvent{Time: time.Now().UTC(), Stack: k.Stack, Stage: k.Stage, Type: typ, Message: msg})
	if err != nil && !core.IsNotFound(err) {
		c.log.Warn("record event", "stack", k.Stack, "stage", k.Stage, "err", err)
	}
	c.log.Info(msg, "stack", k.Stack, "stage", k.Stage, "event", typ)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
