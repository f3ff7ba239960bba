package container

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/store"
)

// Config wires a Controller.
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

	ProbeInterval time.Duration // how often running instances are probed (default 2s)
	Drain         time.Duration // how long a retired instance keeps finishing requests (default 2s)
	StopGrace     time.Duration // SIGTERM to SIGKILL (default 10s)
}

// Controller keeps container-architecture stages running and routed.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	prober *prober

	mu        sync.Mutex
	health    map[string]*health      // by container ID
	releases  map[string]core.Release // cache, by stack/release ID
	rolling   map[StageKey]string
	retiring  map[string]bool
	lastStart map[StageKey]time.Time
	published []gateway.Route
	stageMu   map[StageKey]*sync.Mutex

	kick chan struct{}
	wg   sync.WaitGroup // retiring goroutines
	// syncMu serialises Sync: a pass that read the desired state before a
	// rollout's swap must not publish its (stale) routes after it.
	syncMu sync.Mutex
}

// New returns a controller; call Run to start it.
func New(cfg Config) *Controller {
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 2 * time.Second
	}
	if cfg.Drain == 0 {
		cfg.Drain = 2 * time.Second
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "container"),
		prober:    newProber(),
		health:    map[string]*health{},
		releases:  map[string]core.Release{},
		rolling:   map[StageKey]string{},
		retiring:  map[string]bool{},
		lastStart: map[StageKey]time.Time{},
		stageMu:   map[StageKey]*sync.Mutex{},
		kick:      make(chan struct{}, 1),
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

// Run observes Docker (events plus a periodic pass) until ctx ends. The
// first pass runs at once, which is how instances left running by a
// previous server are adopted and routed again.
func (c *Controller) Run(ctx context.Context) {
	events, errs := c.cfg.Engine.Events(ctx, c.Labels())
	tick := time.NewTicker(c.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.kick:
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			c.log.Debug("docker event", "action", ev.Action, "container", short(ev.ContainerID))
		case err, ok := <-errs:
			if ok && ctx.Err() == nil {
				c.log.Warn("docker events stopped; relying on periodic sync", "err", err)
			}
			errs = nil
		}
	}
}

// Wait blocks until instances being retired are gone.
func (c *Controller) Wait() { c.wg.Wait() }

// Kick asks Run for a sync pass soon.
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) desired(ctx context.Context) (Desired, error) {
	d := Desired{Stacks: map[string][]string{}, Serving: map[StageKey]string{}, RollingOut: map[StageKey]string{}}
	stacks, err := c.cfg.Store.ListStacks(ctx)
	if err != nil {
		return d, err
	}
	for _, s := range stacks {
		var stages []string
		for _, st := range s.Spec.Stages {
			stages = append(stages, st.Name)
		}
		d.Stacks[s.Name] = stages
	}
	srs, err := c.cfg.Store.StageReleases(ctx)
	if err != nil {
		return d, err
	}
	for _, sr := range srs {
		d.Serving[StageKey{sr.Stack, sr.Stage}] = sr.Release
	}
	c.mu.Lock()
	for k, v := range c.rolling {
		d.RollingOut[k] = v
	}
	c.mu.Unlock()
	return d, nil
}

// Sync observes, decides and acts once.
func (c *Controller) Sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	d, err := c.desired(ctx)
	if err != nil {
		return fmt.Errorf("read desired state: %w", err)
	}
	observed, err := c.cfg.Engine.ListContainers(ctx, c.Labels())
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	var keep []engine.Container
	for _, ct := range observed {
		switch Classify(d, ct) {
		case Keep:
			keep = append(keep, ct)
		case Retire:
			c.retire(ct, c.cfg.Drain)
		case Orphan:
			c.retire(ct, 0)
		}
	}
	for _, ct := range Dead(d, observed) {
		c.retire(ct, 0)
	}
	c.probeAll(ctx, keep)
	c.forget(observed)
	for _, k := range Missing(d, observed) {
		c.replace(ctx, k, d.Serving[k])
	}
	c.publish(d)
	return nil
}

// publish sends the route table if it changed.
func (c *Controller) publish(d Desired) {
	routes := Routes(c.cfg.Domain, d, c.Instances(""))
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

// Instances returns what the controller knows of a stack's instances
// ("" for all stacks).
func (c *Controller) Instances(stack string) []core.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []core.Instance
	for _, h := range c.health {
		if stack == "" || h.inst.Stack == stack {
			out = append(out, h.inst)
		}
	}
	return out
}

// forget drops health state of containers that no longer exist.
func (c *Controller) forget(observed []engine.Container) {
	seen := map[string]bool{}
	for _, ct := range observed {
		seen[ct.ID] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.health {
		if !seen[id] {
			delete(c.health, id)
		}
	}
	for id := range c.retiring {
		if !seen[id] {
			delete(c.retiring, id)
		}
	}
}

// retire drains and stops an instance in the background, once.
func (c *Controller) retire(ct engine.Container, drain time.Duration) {
	c.mu.Lock()
	if c.retiring[ct.ID] {
		c.mu.Unlock()
		return
	}
	c.retiring[ct.ID] = true
	delete(c.health, ct.ID)
	c.mu.Unlock()
	log := c.log.With("stack", ct.Labels[core.LabelStack], "stage", ct.Labels[core.LabelStage], "instance", ct.Name)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), drain+c.cfg.StopGrace+30*time.Second)
		defer cancel()
		// The instance is already out of the route table; let requests
		// in flight finish before SIGTERM.
		time.Sleep(drain)
		if ct.Running {
			if err := c.cfg.Engine.StopContainer(ctx, ct.ID, c.cfg.StopGrace); err != nil && !core.IsNotFound(err) {
				log.Warn("stop retired instance", "err", err)
			}
		}
		if err := c.cfg.Engine.RemoveContainer(ctx, ct.ID); err != nil {
			log.Warn("remove retired instance; will retry", "err", err)
			c.mu.Lock()
			delete(c.retiring, ct.ID) // let a later sync try again
			c.mu.Unlock()
			return
		}
		log.Info("instance retired")
	}()
}

// replace starts an instance for a stage whose serving release has none,
// at most once per 10 s per stage so a failing start cannot spin.
func (c *Controller) replace(ctx context.Context, k StageKey, releaseID string) {
	c.mu.Lock()
	if time.Since(c.lastStart[k]) < 10*time.Second {
		c.mu.Unlock()
		return
	}
	c.lastStart[k] = time.Now()
	c.mu.Unlock()
	rel, err := c.release(ctx, k.Stack, releaseID)
	if err != nil {
		c.log.Warn("replace instance: unknown release", "stack", k.Stack, "stage", k.Stage, "release", releaseID, "err", err)
		return
	}
	id, err := c.startInstance(ctx, rel, true)
	if err != nil {
		c.log.Warn("replace instance", "stack", k.Stack, "stage", k.Stage, "err", err)
		return
	}
	c.log.Info("started replacement instance", "stack", k.Stack, "stage", k.Stage, "release", releaseID, "instance", short(id))
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

func (c *Controller) lockStage(k StageKey) func() {
	c.mu.Lock()
	m, ok := c.stageMu[k]
	if !ok {
		m = &sync.Mutex{}
		c.stageMu[k] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
