package serverless

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/lambda"
)

var _ gateway.Upstreams = (*Controller)(nil)

// Acquire gives a request a concurrency slot: on a warm instance (thawed
// if frozen), else on a new one (a cold start, while under
// max_instances), else after a wait in the stage's bounded queue. The
// backend it returns serves the request itself (see serve).
func (c *Controller) Acquire(ctx context.Context, r *gateway.Route) (gateway.Backend, func(), error) {
	arrived := time.Now()
	k := key{r.Stack, r.Stage}
	c.mu.Lock()
	st := c.stages[k]
	if st == nil || st.rel == nil {
		c.mu.Unlock()
		return gateway.Backend{}, nil, fmt.Errorf("%w: stage %s of %s has no release yet", gateway.ErrNoBackend, r.Stage, r.Stack)
	}
	spec := st.spec
	// Queued requests go first: a newcomer takes a free slot only when
	// nobody waits.
	if len(st.waiters) == 0 {
		if in := st.pick(); in != nil {
			in.inflight++
			c.mu.Unlock()
			return c.backend(ctx, in, false, arrived)
		}
	}
	if st.total() < spec.MaxInstances {
		st.starting++
		rel := st.rel
		c.mu.Unlock()
		in, err := c.startInstance(ctx, st, rel, true)
		if err != nil {
			c.serveWaiters(st)
			return gateway.Backend{}, nil, coldStartFailed(st, err)
		}
		return c.backend(ctx, in, true, arrived)
	}
	if len(st.waiters) >= spec.Queue {
		c.mu.Unlock()
		return gateway.Backend{}, nil, c.throttle(st, spec, arrived, "its queue is full")
	}
	w := &waiter{ch: make(chan *instance, 1)}
	st.waiters = append(st.waiters, w)
	c.mu.Unlock()
	timer := time.NewTimer(spec.QueueTimeout.D())
	defer timer.Stop()
	select {
	case in, ok := <-w.ch:
		if !ok {
			return gateway.Backend{}, nil, fmt.Errorf("%w: stage %s of %s was removed", gateway.ErrNoBackend, r.Stage, r.Stack)
		}
		return c.backend(ctx, in, false, arrived)
	case <-timer.C:
	case <-ctx.Done():
	}
	// Leave the queue; a slot handed over meanwhile goes to the next.
	c.mu.Lock()
	for i, x := range st.waiters {
		if x == w {
			st.waiters = append(st.waiters[:i], st.waiters[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	select {
	case in, ok := <-w.ch:
		if ok {
			c.releaseSlot(in)
		}
	default:
	}
	if ctx.Err() != nil {
		return gateway.Backend{}, nil, ctx.Err()
	}
	return gateway.Backend{}, nil, c.throttle(st, spec, arrived, fmt.Sprintf("no instance freed up within its queue timeout of %s", spec.QueueTimeout))
}

// throttle meters and builds Lambda's throttle answer.
func (c *Controller) throttle(st *stage, spec core.ServerlessSpec, arrived time.Time, why string) error {
	c.cfg.Meter(core.Invocation{Stack: st.key.stack, Stage: st.key.stage, Time: arrived, MemoryMB: spec.MemoryMB, Status: http.StatusTooManyRequests, Throttled: true})
	return &gateway.Reject{Status: http.StatusTooManyRequests, Code: "throttled",
		Message:    fmt.Sprintf("stage %s of %s is at max_instances %d with every instance busy, and %s; retry later", st.key.stage, st.key.stack, spec.MaxInstances, why),
		RetryAfter: time.Second, Header: http.Header{HeaderColdStart: {"false"}}}
}

func coldStartFailed(st *stage, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &gateway.Reject{Status: http.StatusBadGateway, Code: "cold_start_failed",
		Message: fmt.Sprintf("stage %s of %s could not start an instance: %v", st.key.stage, st.key.stack, err),
		Header:  http.Header{HeaderColdStart: {"true"}}}
}

// pick is a ready instance of the serving release with a free slot,
// preferring a thawed one and, among those, the busiest, so the rest can
// idle out. Under c.mu.
func (st *stage) pick() *instance {
	var best *instance
	for _, in := range st.insts {
		if !in.usable(st) || in.inflight >= in.spec.Concurrency {
			continue
		}
		if best == nil || (best.frozen && !in.frozen) || (best.frozen == in.frozen && in.inflight > best.inflight) ||
			(best.frozen == in.frozen && in.inflight == best.inflight && in.lastUsed.After(best.lastUsed)) {
			best = in
		}
	}
	return best
}

// usable reports whether in may take new requests: ready, alive and of
// the stage's serving release (not a rollout's trial). Under c.mu.
func (in *instance) usable(st *stage) bool {
	return in.ready && !in.dead && !in.retiring && st.rel != nil && in.rel.ID == st.rel.ID
}

// total is the instances that count toward max_instances: the ready
// ones and those starting (a starting instance is in insts already, but
// counted by starting). Under c.mu.
func (st *stage) total() int {
	n := st.starting
	for _, in := range st.insts {
		if in.ready && !in.dead && !in.retiring {
			n++
		}
	}
	return n
}

// backend thaws in if needed and wraps it for the gateway; the release
// func frees the slot.
func (c *Controller) backend(ctx context.Context, in *instance, cold bool, arrived time.Time) (gateway.Backend, func(), error) {
	if err := c.thaw(ctx, in); err != nil {
		c.kill(in, "thaw failed") // first: its slot must not go to a waiter
		c.releaseSlot(in)
		return gateway.Backend{}, nil, &gateway.Reject{Status: http.StatusBadGateway, Code: "thaw_failed",
			Message: fmt.Sprintf("instance of stage %s of %s could not be thawed: %v", in.st.key.stage, in.st.key.stack, err),
			Header:  http.Header{HeaderColdStart: {"false"}}}
	}
	req := &request{c: c, in: in, cold: cold, arrived: arrived}
	return gateway.Backend{ID: in.name, Addr: in.addr, Serve: req}, func() { c.releaseSlot(in) }, nil
}

// releaseSlot frees one of in's slots: it goes to the first waiter, or
// the instance is frozen once it has been idle FreezeAfter.
func (c *Controller) releaseSlot(in *instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in.inflight--
	in.lastUsed = time.Now()
	c.dispatchLocked(in.st)
	if in.inflight == 0 && in.spec.Freeze && !in.dead {
		if in.timer == nil {
			in.timer = time.AfterFunc(c.cfg.FreezeAfter, func() { c.freeze(in) })
		} else {
			in.timer.Reset(c.cfg.FreezeAfter)
		}
	}
}

// dispatchLocked hands every free slot of the stage's usable instances
// to its waiters, first come first served. Under c.mu.
func (c *Controller) dispatchLocked(st *stage) {
	for len(st.waiters) > 0 {
		in := st.pick()
		if in == nil {
			return
		}
		w := st.waiters[0]
		st.waiters = st.waiters[1:]
		in.inflight++
		w.ch <- in
	}
}

// kill takes an instance out of service at once (no request or waiter
// gets it from now on) and removes it in the background.
func (c *Controller) kill(in *instance, why string) {
	c.mu.Lock()
	in.dead = true
	if in.timer != nil {
		in.timer.Stop()
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.remove(in, why)
	}()
}

// serveWaiters starts instances for queued requests when the stage has
// room again (an instance was removed, a cold start failed).
func (c *Controller) serveWaiters(st *stage) {
	c.mu.Lock()
	n := min(len(st.waiters), st.spec.MaxInstances-st.total())
	rel := st.rel
	if rel == nil || n <= 0 {
		c.mu.Unlock()
		return
	}
	st.starting += n
	c.mu.Unlock()
	for range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			in, err := c.startInstance(c.context(), st, rel, true)
			if err != nil {
				c.log.Warn("start an instance for queued requests", "stack", st.key.stack, "stage", st.key.stage, "err", err)
				return
			}
			c.releaseSlot(in) // hands the slot to the first waiter
		}()
	}
}

// freeze pauses an instance with nothing in flight.
func (c *Controller) freeze(in *instance) {
	in.op.Lock()
	defer in.op.Unlock()
	c.mu.Lock()
	if in.inflight > 0 || in.frozen || in.dead || !in.ready {
		c.mu.Unlock()
		return
	}
	in.frozen = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.cfg.Engine.PauseContainer(ctx, in.id); err != nil {
		c.mu.Lock()
		in.frozen = false
		c.mu.Unlock()
		c.log.Debug("freeze instance", "instance", in.name, "err", err)
	}
}

// thaw unpauses in if it is frozen (or being frozen).
func (c *Controller) thaw(ctx context.Context, in *instance) error {
	c.mu.Lock()
	frozen := in.frozen
	if in.timer != nil {
		in.timer.Stop()
	}
	c.mu.Unlock()
	if !frozen {
		return nil
	}
	in.op.Lock()
	defer in.op.Unlock()
	c.mu.Lock()
	frozen = in.frozen
	c.mu.Unlock()
	if !frozen {
		return nil
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.cfg.Engine.UnpauseContainer(uctx, in.id); err != nil && core.CodeOf(err) != core.CodeConflict {
		return err
	}
	c.mu.Lock()
	in.frozen = false
	c.mu.Unlock()
	return nil
}

// startInstance starts an instance of rel, from the pool when it has
// one, and waits until it is ready. It returns holding one of its slots,
// for the request that caused it; a caller without one releases it.
// counted says the caller counted it in st.starting, which it then
// leaves when the instance is ready (in the same step, so total never
// counts it twice) or has failed.
func (c *Controller) startInstance(ctx context.Context, st *stage, rel *core.Release, counted bool) (*instance, error) {
	begin := time.Now()
	done := func() {
		if counted {
			st.starting--
			counted = false
		}
	}
	id, name, err := c.takePooled(st, rel)
	if err != nil {
		id, name, err = c.create(ctx, rel)
		if err != nil {
			c.mu.Lock()
			done()
			c.mu.Unlock()
			return nil, err
		}
	}
	stageSpec, _ := rel.Spec.Stage(rel.Stage)
	spec := stageSpec.EffectiveServerless()
	in := &instance{id: id, name: name, st: st, rel: rel, spec: spec, inflight: 1, lastUsed: time.Now()}
	c.mu.Lock()
	if c.stages[st.key] != st { // the stage went meanwhile
		done()
		c.mu.Unlock()
		c.cfg.Engine.RemoveContainer(context.WithoutCancel(ctx), id)
		return nil, fmt.Errorf("stage %s of %s was removed", st.key.stage, st.key.stack)
	}
	st.insts[id] = in
	c.insts[id] = in
	c.mu.Unlock()
	c.goFill(st)

	fail := func(err error) (*instance, error) {
		c.mu.Lock()
		done()
		c.mu.Unlock()
		c.remove(in, "start failed")
		return nil, err
	}
	if spec.Handler == core.HandlerLambda {
		in.fn = c.runtime.Register(id, functionInfo(rel, spec))
	}
	if err := c.cfg.Engine.StartContainer(ctx, id); err != nil {
		return fail(err)
	}
	ct, err := c.cfg.Engine.InspectContainer(ctx, id)
	if err != nil {
		return fail(err)
	}
	in.ip = ct.IPAddress
	in.addr = net.JoinHostPort(ct.IPAddress, strconv.Itoa(rel.Spec.Port))
	if in.fn != nil {
		c.mu.Lock()
		c.byIP[in.ip] = in
		close(c.ipChanged)
		c.ipChanged = make(chan struct{})
		c.mu.Unlock()
	}
	limit := rel.Spec.Health.StartTimeout.D()
	if limit <= 0 {
		limit = core.DefaultStartTimeout
	}
	if err := c.waitReady(ctx, in, limit); err != nil {
		return fail(err)
	}
	in.init = time.Since(begin)
	c.mu.Lock()
	in.ready, in.readyAt = true, time.Now()
	done()
	c.dispatchLocked(st) // its other slots, when concurrency > 1
	c.mu.Unlock()
	return in, nil
}

// waitReady polls every millisecond until the instance listens on its
// port (http) or has asked the Runtime API for its first event (lambda).
func (c *Controller) waitReady(ctx context.Context, in *instance, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if in.fn != nil {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-in.fn.Ready():
				return nil
			case fe := <-in.fn.InitError():
				return fmt.Errorf("the function failed to initialize: %s: %s", fe.Type, fe.Message)
			case <-tick.C:
				if c.stopped(ctx, in) {
					// An init error posted just before the exit wins.
					select {
					case fe := <-in.fn.InitError():
						return fmt.Errorf("the function failed to initialize: %s: %s", fe.Type, fe.Message)
					case <-time.After(50 * time.Millisecond):
					}
					return c.notReady(in, limit, "")
				}
			case <-ctx.Done():
				return c.notReady(in, limit, "it never asked the Runtime API for an event")
			}
		}
	}
	d := net.Dialer{Timeout: 100 * time.Millisecond}
	for i := 1; ; i++ {
		conn, err := d.DialContext(ctx, "tcp", in.addr)
		if err == nil {
			conn.Close()
			return nil
		}
		// Every 100 tries or so, see whether it has exited already.
		if i%100 == 0 && c.stopped(ctx, in) {
			return c.notReady(in, limit, "")
		}
		select {
		case <-ctx.Done():
			return c.notReady(in, limit, fmt.Sprintf("nothing listens on port %d", in.rel.Spec.Port))
		case <-time.After(time.Millisecond):
		}
	}
}

// stopped reports whether a starting instance's container has exited.
func (c *Controller) stopped(ctx context.Context, in *instance) bool {
	ct, err := c.cfg.Engine.InspectContainer(ctx, in.id)
	return err == nil && !ct.Running && ct.State != "paused"
}

// notReady explains an instance that did not get ready: exited (with its
// code and last lines) or silent.
func (c *Controller) notReady(in *instance, limit time.Duration, silent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ct, err := c.cfg.Engine.InspectContainer(ctx, in.id); err == nil && !ct.Running {
		msg := fmt.Sprintf("the instance exited with code %d before it was ready", ct.ExitCode)
		if ct.OOMKilled {
			msg = fmt.Sprintf("the instance ran out of its %d MB of memory before it was ready", in.spec.MemoryMB)
		}
		if tail := c.tail(ctx, in.id, 5); tail != "" {
			msg += "; last output: " + tail
		}
		return errors.New(msg)
	}
	return fmt.Errorf("the instance was not ready within %s: %s", limit, silent)
}

// tail is a container's last n output lines, joined with " | ".
func (c *Controller) tail(ctx context.Context, id string, n int) string {
	lines, _ := engine.LastLines(ctx, c.cfg.Engine, id, n)
	return strings.Join(lines, " | ")
}

// create makes (but does not start) a container of rel.
func (c *Controller) create(ctx context.Context, rel *core.Release) (string, string, error) {
	stageSpec, _ := rel.Spec.Stage(rel.Stage)
	spec := stageSpec.EffectiveServerless()
	internal := !stageSpec.Network.EgressAllowed()
	network := c.networkFor(rel.Stack, internal)
	if _, err := c.cfg.Engine.EnsureNetwork(ctx, network, c.cfg.NetworkLabels, internal); err != nil {
		return "", "", fmt.Errorf("create network %s: %w", network, err)
	}
	env := rel.Env()
	secrets, err := rel.SecretEnv(c.cfg.OpenSecret)
	if err != nil {
		return "", "", err
	}
	env = append(env, secrets...)
	if spec.Handler == core.HandlerLambda {
		addr, err := c.runtimeAddr(ctx, network)
		if err != nil {
			return "", "", err
		}
		env = append(env, functionInfo(rel, spec).Env(addr)...)
	}
	labels := c.Labels()
	labels[core.LabelStack] = rel.Stack
	labels[core.LabelStage] = rel.Stage
	labels[core.LabelRelease] = rel.ID
	name := c.instanceName(rel)
	id, err := c.cfg.Engine.CreateContainer(ctx, engine.ContainerSpec{
		Name: name, Image: rel.Image, Env: env, Labels: labels, Network: network,
		MemoryBytes: int64(spec.MemoryMB) << 20, NanoCPUs: int64(spec.CPU() * 1e9),
		PidsLimit: core.DefaultPidsLimit, StopTimeout: time.Second,
	})
	if err != nil {
		return "", "", fmt.Errorf("create instance of %s/%s: %w", rel.Stack, rel.Stage, err)
	}
	if a := stageSpec.Network.Attach; a != "" {
		if err := c.cfg.Engine.ConnectNetwork(ctx, a, id, []string{rel.Stage + "." + rel.Stack}); err != nil {
			c.cfg.Engine.RemoveContainer(context.WithoutCancel(ctx), id)
			return "", "", fmt.Errorf("attach instance to network %s: %w", a, err)
		}
	}
	return id, name, nil
}

// functionInfo describes a lambda stage's function to the Runtime API.
func functionInfo(rel *core.Release, spec core.ServerlessSpec) lambda.FunctionInfo {
	return lambda.FunctionInfo{Name: rel.Stack + "-" + rel.Stage, Version: rel.ID, MemoryMB: spec.MemoryMB, Timeout: spec.Timeout.D()}
}

// takePooled takes a pooled container of rel, if the stage has one.
func (c *Controller) takePooled(st *stage, rel *core.Release) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range st.pool {
		if p.rel == rel.ID {
			st.pool = append(st.pool[:i], st.pool[i+1:]...)
			return p.id, p.name, nil
		}
	}
	return "", "", errors.New("pool empty")
}

// goFill fills the pool in the background, tracked for shutdown.
func (c *Controller) goFill(st *stage) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.fillPool(st)
	}()
}

// fillPool tops the stage's pool up to PoolSize at its release and
// removes pooled containers of older releases.
func (c *Controller) fillPool(st *stage) {
	c.mu.Lock()
	if st.filling || st.rel == nil {
		c.mu.Unlock()
		return
	}
	st.filling = true
	rel := st.rel
	var stale []pooled
	keep := st.pool[:0]
	for _, p := range st.pool {
		if p.rel == rel.ID {
			keep = append(keep, p)
		} else {
			stale = append(stale, p)
		}
	}
	st.pool = keep
	need := c.cfg.PoolSize - len(st.pool)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		st.filling = false
		c.mu.Unlock()
	}()
	ctx := c.context()
	for _, p := range stale {
		c.cfg.Engine.RemoveContainer(ctx, p.id)
	}
	for range max(need, 0) {
		id, name, err := c.create(ctx, rel)
		if err != nil {
			c.log.Warn("fill the pool", "stack", rel.Stack, "stage", rel.Stage, "err", err)
			return
		}
		c.mu.Lock()
		dropped := c.stages[st.key] != st || st.rel != rel
		if !dropped {
			st.pool = append(st.pool, pooled{id: id, name: name, rel: rel.ID})
		}
		c.mu.Unlock()
		if dropped {
			c.cfg.Engine.RemoveContainer(ctx, id)
			return
		}
	}
}

// Rollout releases rel to its stage: a trial instance must get ready
// (else the stage keeps its release and the error says why); then the
// release is activated, new requests go to it and the older release's
// instances retire as they go idle.
func (c *Controller) Rollout(ctx context.Context, rel core.Release, progress func(string), activate func(context.Context) error) error {
	k := key{rel.Stack, rel.Stage}
	c.mu.Lock()
	st := c.stageLocked(k)
	st.rolling++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		st.rolling--
		c.mu.Unlock()
	}()
	c.publish()
	r := rel
	progress(fmt.Sprintf("starting a trial instance of %s", rel.ID))
	begin := time.Now()
	in, err := c.startInstance(ctx, st, &r, false)
	if err != nil {
		return core.Wrap(core.CodeDeployFailed, err, "release %s of %s/%s did not start: %v", rel.ID, rel.Stack, rel.Stage, err)
	}
	defer c.releaseSlot(in)
	progress(fmt.Sprintf("instance %s ready in %s (a cold start)", in.name, time.Since(begin).Round(time.Millisecond)))
	if err := activate(ctx); err != nil {
		c.remove(in, "activation failed")
		return err
	}
	c.mu.Lock()
	c.setRelease(st, &r)
	c.mu.Unlock()
	c.serveWaiters(st) // the old release's instances no longer count
	c.Kick()
	c.goFill(st)
	return nil
}
