package logstore

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Instances is what the collector needs of the container runtime
// (engine.Engine has it).
type Instances interface {
	ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error)
	Events(ctx context.Context, labels map[string]string) (<-chan engine.Event, <-chan error)
	LogLines(ctx context.Context, id string, opts engine.LogOptions, fn func(engine.LogLine) error) error
}

// CollectorConfig configures a Collector.
type CollectorConfig struct {
	Store  *Store
	Engine Instances
	// Selectors are the label sets of the instances to collect, one per
	// architecture's controller (their Labels()); containers without
	// stack and stage labels, and build tasks, are left alone.
	Selectors []map[string]string
	// Resync is how often the instance list is reread besides events
	// (default 5s): a missed event costs at most that much delay.
	Resync time.Duration
	Logger *slog.Logger
}

// Collector follows every instance's output into the store's runtime
// logs, one follower per container, tagging each line with the instance
// (the container's name and ID) and its stream.
//
// Resuming: a follower asks Docker for the output since the last line
// stored for its container (kept in memory while the server runs, read
// back from the store after a restart). Docker's since is inclusive to
// the nanosecond, so the lines stored at exactly that time are dropped
// once when Docker sends them again. Lines are lost only when Docker no
// longer has them (its json-file log rotated past them while the server
// was down, or the container was removed before it was followed), and
// duplicated only if an instance wrote two identical lines within the
// same nanosecond as the last stored one.
type Collector struct {
	cfg CollectorConfig
	log *slog.Logger

	mu        sync.Mutex
	following map[string]bool    // container ID → a follower runs
	finished  map[string]bool    // collected to the end of a stopped container
	cursors   map[string]*cursor // container ID → where its output was stored up to
	wg        sync.WaitGroup
}

// cursor is where a container's output has been stored up to: the last
// line's time, and the lines stored at exactly that time (stream and
// text, counted), which Docker sends again when asked for what came
// since that time.
type cursor struct {
	time   time.Time
	atTime map[lineKey]int
	resend map[lineKey]int // what of atTime the current read has yet to send again
}

// lineKey tells lines at the same time apart: their stream and text.
type lineKey struct{ stream, text string }

// moveTo makes t the cursor's time, with no line seen at it yet. Almost
// every line has a time of its own, so the map is cleared, not made
// anew, unless it grew (clearing costs what it holds room for).
func (cur *cursor) moveTo(t time.Time) {
	cur.time, cur.resend = t, nil // resend is begin's copy: nothing else holds it
	if cur.atTime == nil || len(cur.atTime) > 16 {
		cur.atTime = map[lineKey]int{}
		return
	}
	clear(cur.atTime)
}

// begin starts a read from Docker since cur.time.
func (cur *cursor) begin() {
	cur.resend = maps.Clone(cur.atTime)
}

// NewCollector makes a Collector; Run runs it.
func NewCollector(cfg CollectorConfig) *Collector {
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, log: cfg.Logger.With("component", "logcollector"),
		following: map[string]bool{}, finished: map[string]bool{}, cursors: map[string]*cursor{}}
}

// Run collects until ctx ends and every follower has stopped.
func (c *Collector) Run(ctx context.Context) {
	defer c.wg.Wait()
	starts := make(chan string, 64)
	for _, sel := range c.cfg.Selectors {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.watch(ctx, sel, starts)
		}()
	}
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	c.resync(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-starts:
			// A (re)started instance: its follower may have ended with
			// its last run.
			c.resync(ctx)
		case <-tick.C:
			c.resync(ctx)
		}
	}
}

// watch passes on start events of sel's containers, resubscribing after
// a broken stream.
func (c *Collector) watch(ctx context.Context, sel map[string]string, starts chan<- string) {
	for ctx.Err() == nil {
		evs, errc := c.cfg.Engine.Events(ctx, sel)
		for ev := range evs {
			if ev.Action != "start" && ev.Action != "restart" && ev.Action != "unpause" {
				continue
			}
			c.mu.Lock()
			delete(c.finished, ev.ContainerID)
			c.mu.Unlock()
			select {
			case starts <- ev.ContainerID:
			default: // a resync is already due
			}
		}
		if err := <-errc; err != nil {
			c.log.Debug("instance events ended; resubscribing", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// resync starts a follower for every instance that needs one, and
// forgets the containers that are gone.
func (c *Collector) resync(ctx context.Context) {
	present := map[string]bool{}
	for _, sel := range c.cfg.Selectors {
		cts, err := c.cfg.Engine.ListContainers(ctx, sel)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("list instances to collect their logs", "err", err)
			}
			return
		}
		for _, ct := range cts {
			present[ct.ID] = true
			stack, stage := ct.Labels[core.LabelStack], ct.Labels[core.LabelStage]
			if stack == "" || stage == "" || ct.Labels[core.LabelTask] != "" {
				continue
			}
			c.mu.Lock()
			start := !c.following[ct.ID] && (ct.Running || !c.finished[ct.ID])
			if start {
				c.following[ct.ID] = true
			}
			c.mu.Unlock()
			if start {
				c.wg.Add(1)
				go func() {
					defer c.wg.Done()
					c.follow(ctx, ct, Key{Stack: stack, Stage: stage, Kind: Runtime})
				}()
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.cursors {
		if !present[id] && !c.following[id] {
			delete(c.cursors, id)
			delete(c.finished, id)
		}
	}
}

// follow stores one container's output from its cursor until the
// output ends (the container stopped) or ctx does.
func (c *Collector) follow(ctx context.Context, ct engine.Container, k Key) {
	log := c.log.With("stack", k.Stack, "stage", k.Stage, "instance", ct.Name)
	c.mu.Lock()
	cur := c.cursors[ct.ID]
	c.mu.Unlock()
	if cur == nil {
		var notBefore time.Time
		if ct.Restarts == 0 {
			notBefore = ct.StartedAt // it wrote nothing before
		}
		cur = c.cfg.Store.lastLines(k, shortID(ct.ID), notBefore)
	}
	cur.begin()
	name, container := strings.TrimPrefix(ct.Name, "/"), shortID(ct.ID)
	var buf []byte
	err := c.cfg.Engine.LogLines(ctx, ct.ID, engine.LogOptions{Follow: true, Timestamps: true, Since: cur.time}, func(l engine.LogLine) error {
		if l.Time.IsZero() {
			l.Time = cur.time // the rest of a line cut for length
		}
		if cur.skip(l) {
			return nil
		}
		line := Line{Time: l.Time, Instance: name, Container: container, Stream: l.Stream, Text: l.Text}
		buf = line.appendJSON(buf[:0])
		return c.cfg.Store.AppendLine(k, l.Time, buf)
	})
	if err != nil && ctx.Err() == nil && !core.IsNotFound(err) {
		log.Warn("collect instance logs", "err", err)
	}
	c.mu.Lock()
	c.cursors[ct.ID] = cur
	delete(c.following, ct.ID)
	if err == nil {
		c.finished[ct.ID] = true
	}
	if core.IsNotFound(err) { // removed: nothing more to collect
		delete(c.cursors, ct.ID)
		c.finished[ct.ID] = true
	}
	c.mu.Unlock()
}

// skip says whether l is stored already, and moves the cursor past it
// if not.
func (cur *cursor) skip(l engine.LogLine) bool {
	k := lineKey{l.Stream, l.Text}
	switch {
	case l.Time.Before(cur.time):
		return true
	case l.Time.Equal(cur.time):
		if cur.resend[k] > 0 {
			cur.resend[k]--
			return true
		}
	default:
		cur.moveTo(l.Time)
	}
	cur.atTime[k]++
	return false
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
