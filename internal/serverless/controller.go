package serverless

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/lambda"
	"github.com/slipwayhq/slipway/internal/store"
)

// LabelServerless marks a serverless instance (value "true").
const LabelServerless = "io.slipway.serverless"

// Defaults for Config's zero values.
const (
	DefaultPoolSize    = 2
	DefaultFreezeAfter = 100 * time.Millisecond
	DefaultInterval    = time.Second
)

// Config wires a Controller. Engine, Store and NetworkName are required.
type Config struct {
	Engine    engine.Engine
	Store     store.Store
	Namespace string // "" is the default namespace
	ServerID  string
	Domain    string
	// NetworkName is a stack's network (shared with the container
	// controller), and NetworkLabels the labels it is created with.
	NetworkName   func(stack string) string
	NetworkLabels map[string]string
	OpenSecret    func(sealed string) (string, error)
	// Meter receives every invocation, throttles included. It is called
	// on the request's goroutine: keep it cheap.
	Meter func(core.Invocation)
	// Publish receives the serverless stages' routes whenever they change.
	Publish func([]gateway.Route)
	Logger  *slog.Logger
	// PoolSize is how many created-but-not-started containers each stage
	// keeps at its release (default 2).
	PoolSize int
	// FreezeAfter is how long an instance with no request in flight
	// stays thawed before it is paused (default 100ms): a request that
	// follows at once finds it running.
	FreezeAfter time.Duration
	// Interval is how often idle instances are reaped and pools refilled.
	Interval time.Duration
}

// Controller is the serverless activator and the lifecycle of its
// instances. It implements service.Controller for serverless stacks.
type Controller struct {
	cfg       Config
	log       *slog.Logger
	transport *http.Transport
	runtime   *lambda.Server

	mu        sync.Mutex
	ctx       context.Context
	stages    map[key]*stage
	insts     map[string]*instance // by container ID
	byIP      map[string]*instance // lambda instances, for the Runtime API
	ipChanged chan struct{}        // closed and replaced when byIP gains one
	listeners map[string]*runtimeListener
	published []gateway.Route
	kick      chan struct{}
	wg        sync.WaitGroup
}

type key struct{ stack, stage string }

// stage is a serverless stage's state.
type stage struct {
	key      key
	rel      *core.Release // serving; nil until the first release
	spec     core.ServerlessSpec
	port     int
	insts    map[string]*instance
	starting int // cold starts under way: they count toward max_instances
	waiters  []*waiter
	pool     []pooled
	filling  bool
	rolling  int // rollouts under way: the stage stays even before the store knows it
	crash    *core.CrashInfo
}

type pooled struct {
	id, name string
	rel      string
}

// instance is a started serverless instance.
type instance struct {
	id, name string
	ip, addr string
	st       *stage
	rel      *core.Release
	spec     core.ServerlessSpec
	fn       *lambda.Instance // lambda handlers only
	init     time.Duration    // start to ready

	// Under Controller.mu.
	inflight int
	ready    bool
	dead     bool
	retiring bool // an older release's: takes no new request
	frozen   bool // paused, or being paused
	lastUsed time.Time
	timer    *time.Timer       // freezes it once idle
	exit     *engine.Container // how it ended, when the reaper saw it exit
	readyAt  time.Time

	op sync.Mutex // serializes pause and unpause
}

type waiter struct {
	ch chan *instance // gets an instance whose slot is already taken
}

// New builds a Controller; Run starts its background work.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.FreezeAfter == 0 {
		cfg.FreezeAfter = DefaultFreezeAfter
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Meter == nil {
		cfg.Meter = func(core.Invocation) {}
	}
	c := &Controller{
		cfg: cfg, log: cfg.Logger.With("component", "serverless"),
		ctx:    context.Background(),
		stages: map[key]*stage{}, insts: map[string]*instance{}, byIP: map[string]*instance{},
		ipChanged: make(chan struct{}), listeners: map[string]*runtimeListener{},
		kick: make(chan struct{}, 1),
		transport: &http.Transport{
			Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			DisableCompression: true,
		},
	}
	c.runtime = lambda.NewServer(c.identify, c.log)
	return c
}

// Labels are what every serverless instance of this server carries.
func (c *Controller) Labels() map[string]string {
	ns := c.cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	return map[string]string{LabelServerless: "true", core.LabelNamespace: ns, core.LabelServer: c.cfg.ServerID}
}

// Start removes what an earlier server left and loads the serving
// releases, so the stages' routes exist before the gateway serves. ctx
// is the server's: instances started later live until it ends.
func (c *Controller) Start(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	left, err := c.cfg.Engine.ListContainers(ctx, c.Labels())
	if err != nil {
		return fmt.Errorf("list serverless instances: %w", err)
	}
	for _, ct := range left {
		c.cfg.Engine.RemoveContainer(ctx, ct.ID)
	}
	return c.load(ctx)
}

// Run keeps stages in shape (idle instances reaped, pools and
// min_instances kept) and runs their schedules until ctx ends; then it
// removes every instance. Call Start first.
func (c *Controller) Run(ctx context.Context) error {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.schedules(ctx)
	}()
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.pass(ctx)
		select {
		case <-ctx.Done():
			c.shutdown()
			return nil
		case <-t.C:
		case <-c.kick:
		}
	}
}

// Kick makes the next pass happen now (a stack was created or changed).
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// load reads the serverless stacks and their serving releases.
func (c *Controller) load(ctx context.Context) error {
	stacks, err := c.cfg.Store.ListStacks(ctx)
	if err != nil {
		return fmt.Errorf("read stacks: %w", err)
	}
	srs, err := c.cfg.Store.StageReleases(ctx)
	if err != nil {
		return fmt.Errorf("read stage releases: %w", err)
	}
	serving := map[key]string{}
	for _, sr := range srs {
		serving[key{sr.Stack, sr.Stage}] = sr.Release
	}
	wanted := map[key]bool{}
	for _, s := range stacks {
		if s.Spec.Architecture != core.ArchServerless {
			continue
		}
		for _, stSpec := range s.Spec.Stages {
			k := key{s.Name, stSpec.Name}
			wanted[k] = true
			c.mu.Lock()
			st := c.stageLocked(k)
			hasRel := st.rel != nil
			c.mu.Unlock()
			if hasRel || serving[k] == "" {
				continue
			}
			rel, err := c.cfg.Store.GetRelease(ctx, s.Name, serving[k])
			if err != nil {
				c.log.Warn("read serving release", "stack", s.Name, "stage", stSpec.Name, "err", err)
				continue
			}
			c.mu.Lock()
			if st.rel == nil { // a rollout may have set one meanwhile
				c.setRelease(st, &rel)
			}
			c.mu.Unlock()
		}
	}
	// Stages of stacks no longer serverless (or deleted) go; the stack
	// is read again first, since a rollout may have made it serverless
	// after the list above was read.
	c.mu.Lock()
	var candidates []key
	for k, st := range c.stages {
		if !wanted[k] && st.rolling == 0 {
			candidates = append(candidates, k)
		}
	}
	c.mu.Unlock()
	var gone []*stage
	for _, k := range candidates {
		if s, err := c.cfg.Store.GetStack(ctx, k.stack); err == nil && s.Spec.Architecture == core.ArchServerless {
			if _, ok := s.Spec.Stage(k.stage); ok {
				continue
			}
		} else if err != nil && !core.IsNotFound(err) {
			continue // unsure: keep it until a later pass
		}
		c.mu.Lock()
		if st := c.stages[k]; st != nil && st.rolling == 0 {
			gone = append(gone, st)
			delete(c.stages, k)
		}
		c.mu.Unlock()
	}
	for _, st := range gone {
		c.dropStage(st)
	}
	c.publish()
	return nil
}

func (c *Controller) stageLocked(k key) *stage {
	st := c.stages[k]
	if st == nil {
		st = &stage{key: k, insts: map[string]*instance{}}
		c.stages[k] = st
	}
	return st
}

// setRelease makes rel the stage's serving release: new requests go to
// its instances; older ones retire once idle. Under c.mu.
func (c *Controller) setRelease(st *stage, rel *core.Release) {
	st.rel = rel
	stageSpec, _ := rel.Spec.Stage(rel.Stage)
	st.spec = stageSpec.EffectiveServerless()
	st.port = rel.Spec.Port
	st.crash = nil
	for _, in := range st.insts {
		if in.rel.ID != rel.ID {
			in.retiring = true
		}
	}
}

// publish sends the routes of every serverless stage, if they changed.
func (c *Controller) publish() {
	c.mu.Lock()
	routes := make([]gateway.Route, 0, len(c.stages))
	for k := range c.stages {
		routes = append(routes, gateway.Route{Host: core.Hostname(k.stack, k.stage, c.cfg.Domain), Stack: k.stack, Stage: k.stage, Upstreams: c})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Host < routes[j].Host })
	changed := !reflect.DeepEqual(routes, c.published)
	if changed {
		c.published = routes
	}
	c.mu.Unlock()
	if changed && c.cfg.Publish != nil {
		c.cfg.Publish(routes)
	}
}

// Routes returns the routes last published.
func (c *Controller) Routes() []gateway.Route {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]gateway.Route(nil), c.published...)
}

// pass reaps idle, dead and retired instances, keeps min_instances warm
// and the pools full.
func (c *Controller) pass(ctx context.Context) {
	if err := c.load(ctx); err != nil {
		c.log.Warn("serverless pass", "err", err)
	}
	c.reapExited(ctx)
	now := time.Now()
	c.mu.Lock()
	var remove []*instance
	var warm []*stage
	var fill []*stage
	for _, st := range c.stages {
		live := 0
		for _, in := range st.insts {
			if in.dead {
				continue
			}
			if in.retiring && in.inflight == 0 {
				remove = append(remove, in)
				continue
			}
			if in.usable(st) {
				live++
			}
		}
		// Idle ones beyond min_instances go, oldest use first.
		idle := []*instance{}
		for _, in := range st.insts {
			if in.usable(st) && in.inflight == 0 && now.Sub(in.lastUsed) >= st.spec.Idle.D() {
				idle = append(idle, in)
			}
		}
		sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
		for _, in := range idle {
			if live <= st.spec.MinInstances {
				break
			}
			remove = append(remove, in)
			live--
		}
		for _, in := range remove {
			in.dead = true
		}
		if st.rel != nil && live+st.starting < st.spec.MinInstances {
			warm = append(warm, st)
		}
		if st.rel != nil && !st.filling {
			fill = append(fill, st)
		}
	}
	c.mu.Unlock()
	for _, in := range remove {
		c.remove(in, "idle")
	}
	for _, st := range warm {
		c.warm(st)
	}
	for _, st := range fill {
		c.fillPool(st)
	}
}

// warm starts instances up to min_instances (provisioned concurrency).
func (c *Controller) warm(st *stage) {
	c.mu.Lock()
	rel := st.rel
	n := st.spec.MinInstances - st.total()
	st.starting += max(n, 0)
	c.mu.Unlock()
	for range max(n, 0) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			in, err := c.startInstance(c.context(), st, rel, true)
			if err != nil {
				c.log.Warn("start a provisioned instance", "stack", st.key.stack, "stage", st.key.stage, "err", err)
				return
			}
			c.releaseSlot(in)
		}()
	}
}

func (c *Controller) context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// reapExited drops instances whose container is no longer running (a
// crash, an OOM kill while idle, a docker rm).
func (c *Controller) reapExited(ctx context.Context) {
	// Only instances ready before the list was taken can be judged by
	// it: one that turned ready meanwhile shows as "created" there.
	listed := time.Now()
	cts, err := c.cfg.Engine.ListContainers(ctx, c.Labels())
	if err != nil {
		c.log.Warn("list serverless instances", "err", err)
		return
	}
	running := map[string]engine.Container{}
	for _, ct := range cts {
		running[ct.ID] = ct
	}
	c.mu.Lock()
	var gone []*instance
	for id, in := range c.insts {
		ct, ok := running[id]
		if in.dead || !in.ready || !in.readyAt.Before(listed) {
			continue
		}
		if !ok || (!ct.Running && ct.State != "paused") {
			in.dead = true
			gone = append(gone, in)
			if ok {
				in.exit = &ct // for a request in flight on it to explain
				in.st.crash = &core.CrashInfo{Instance: in.name, Time: time.Now().UTC(), ExitCode: ct.ExitCode, OOM: ct.OOMKilled}
			}
		}
	}
	c.mu.Unlock()
	for _, in := range gone {
		c.remove(in, "exited")
	}
}

// remove takes an instance out for good and removes its container.
func (c *Controller) remove(in *instance, why string) {
	c.mu.Lock()
	in.dead = true
	delete(in.st.insts, in.id)
	delete(c.insts, in.id)
	if in.ip != "" && c.byIP[in.ip] == in {
		delete(c.byIP, in.ip)
	}
	if in.timer != nil {
		in.timer.Stop()
	}
	st := in.st
	c.mu.Unlock()
	if in.fn != nil {
		c.runtime.Unregister(in.id)
	}
	c.log.Debug("removing serverless instance", "stack", st.key.stack, "stage", st.key.stage, "instance", in.name, "why", why)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cfg.Engine.RemoveContainer(ctx, in.id); err != nil {
		c.log.Warn("remove serverless instance", "instance", in.name, "err", err)
	}
	c.serveWaiters(st)
}

// dropStage removes a stage's instances and pool.
func (c *Controller) dropStage(st *stage) {
	c.mu.Lock()
	var ins []*instance
	for _, in := range st.insts {
		in.dead = true
		ins = append(ins, in)
	}
	pool := st.pool
	st.pool = nil
	waiters := st.waiters
	st.waiters = nil
	c.mu.Unlock()
	for _, w := range waiters {
		close(w.ch)
	}
	for _, in := range ins {
		c.remove(in, "stage removed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range pool {
		c.cfg.Engine.RemoveContainer(ctx, p.id)
	}
}

// shutdown removes every instance and pooled container.
func (c *Controller) shutdown() {
	c.mu.Lock()
	stages := make([]*stage, 0, len(c.stages))
	for _, st := range c.stages {
		stages = append(stages, st)
	}
	c.mu.Unlock()
	c.wg.Wait()
	for _, st := range stages {
		c.dropStage(st)
	}
	c.mu.Lock()
	for _, l := range c.listeners {
		l.close()
	}
	c.listeners = map[string]*runtimeListener{}
	c.mu.Unlock()
}

// RemoveStack removes a stack's serverless instances and forgets it.
func (c *Controller) RemoveStack(ctx context.Context, stack string) error {
	c.mu.Lock()
	var gone []*stage
	for k, st := range c.stages {
		if k.stack == stack {
			gone = append(gone, st)
			delete(c.stages, k)
		}
	}
	c.mu.Unlock()
	for _, st := range gone {
		c.dropStage(st)
	}
	labels := c.Labels()
	labels[core.LabelStack] = stack
	cts, err := c.cfg.Engine.ListContainers(ctx, labels)
	if err != nil {
		return fmt.Errorf("list serverless instances of %s: %w", stack, err)
	}
	for _, ct := range cts {
		if err := c.cfg.Engine.RemoveContainer(ctx, ct.ID); err != nil {
			return err
		}
	}
	c.closeListener(c.networkFor(stack, true))
	c.closeListener(c.networkFor(stack, false))
	c.publish()
	return nil
}

// Abort has nothing to stop: a serverless release is live once its trial
// instance is ready.
func (c *Controller) Abort(stack, stage string) (string, error) {
	return "", core.Errorf(core.CodeConflict, "stage %s of %s has no rollout in progress: serverless releases go live as soon as their first instance is ready", stage, stack)
}

// Instances lists a stack's serverless instances ("" for all).
func (c *Controller) Instances(stack string) []core.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []core.Instance
	for _, in := range c.insts {
		if stack != "" && in.st.key.stack != stack || in.dead {
			continue
		}
		state := "running"
		switch {
		case !in.ready:
			state = "starting"
		case in.frozen:
			state = "frozen"
		}
		out = append(out, core.Instance{ID: in.id, Name: in.name, Stack: in.st.key.stack, Stage: in.st.key.stage,
			Release: in.rel.ID, State: state, Addr: in.addr, Healthy: in.ready && !in.retiring})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StageInfo reports the stage's instance count and its last crash.
func (c *Controller) StageInfo(stack, stageName string) core.StageRuntime {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stages[key{stack, stageName}]
	if st == nil {
		return core.StageRuntime{}
	}
	return core.StageRuntime{Desired: st.total(), Crash: st.crash}
}

// Logs writes the output of the stage's live instances, oldest first.
// (Instances removed when idle take their output with them until the log
// store keeps it.)
func (c *Controller) Logs(ctx context.Context, stack, stageName string, opts engine.LogOptions, w io.Writer) error {
	c.mu.Lock()
	var ids []string
	for _, in := range c.insts {
		if in.st.key == (key{stack, stageName}) {
			ids = append(ids, in.id)
		}
	}
	c.mu.Unlock()
	opts.Follow = false
	for _, id := range ids {
		r, err := c.cfg.Engine.Logs(ctx, id, opts)
		if err != nil {
			continue
		}
		io.Copy(w, r)
		r.Close()
	}
	return nil
}

// networkFor is the network a stage's instances join.
func (c *Controller) networkFor(stack string, internal bool) string {
	n := c.cfg.NetworkName(stack)
	if internal {
		n += "-internal"
	}
	return n
}

func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// instanceName is a readable, unique container name.
func (c *Controller) instanceName(rel *core.Release) string {
	return strings.Join([]string{c.cfg.NetworkName(rel.Stack), rel.Stage, rel.ID, "fn", randomSuffix()}, "-")
}
