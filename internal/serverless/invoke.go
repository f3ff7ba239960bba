package serverless

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/lambda"
	"github.com/slipwayhq/slipway/internal/schedule"
)

// Invoke hands a raw event to a lambda stage, as `aws lambda invoke`
// does: through the activator (a cold start if need be, the queue, the
// throttle), metered like any request. It returns the response payload.
func (c *Controller) Invoke(ctx context.Context, stack, stage string, event []byte) ([]byte, error) {
	arrived := time.Now()
	b, release, err := c.Acquire(ctx, &gateway.Route{Stack: stack, Stage: stage})
	if err != nil {
		var rej *gateway.Reject
		switch {
		case errors.As(err, &rej) && rej.Status == http.StatusTooManyRequests:
			return nil, core.Errorf(core.CodeThrottled, "%s", rej.Message)
		case errors.As(err, &rej):
			return nil, core.Errorf(core.CodeFunction, "%s", rej.Message)
		case errors.Is(err, gateway.ErrNoBackend):
			return nil, core.Errorf(core.CodeUnavailable, "stage %s of %s has no release to invoke yet", stage, stack)
		}
		return nil, err
	}
	defer release()
	q := b.Serve.(*request)
	in := q.in
	if in.fn == nil {
		return nil, core.Errorf(core.CodeInvalid, "stage %s of %s has handler http, which takes HTTP requests, not events: send one to %s",
			stage, stack, "http://"+core.Hostname(stack, stage, c.cfg.Domain)+"/")
	}
	inv := core.Invocation{Stack: stack, Stage: stage, Time: arrived, MemoryMB: in.spec.MemoryMB, ColdStart: q.cold, Status: http.StatusOK}
	if q.cold {
		inv.Init = in.init
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, in.spec.Timeout.D())
	defer cancel()
	out, err := c.invoke(tctx, in, randomSuffix()+randomSuffix(), event)
	inv.Duration = time.Since(start)
	defer func() { c.cfg.Meter(inv) }()
	var fe *functionError
	switch {
	case err == nil:
		return out, nil
	case (errors.Is(tctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil:
		inv.Status, inv.TimedOut = http.StatusGatewayTimeout, true
		c.kill(in, "timed out")
		return nil, core.Errorf(core.CodeFunction, "the function ran past stage %s's timeout of %s; its instance was stopped", stage, in.spec.Timeout)
	case errors.As(err, &fe):
		inv.Status = fe.status
		return nil, core.Errorf(core.CodeFunction, "%s", fe.message)
	default:
		inv.Status = http.StatusBadGateway
		ct, known := c.exitOf(in)
		c.kill(in, "failed an invocation")
		if known && ct.OOMKilled {
			return nil, core.Errorf(core.CodeFunction, "the instance ran out of its %d MB of memory and was killed", in.spec.MemoryMB)
		}
		return nil, core.Wrap(core.CodeFunction, err, "the invocation failed: %v", err)
	}
}

// scheduled is one schedule of a stage, with its next run.
type scheduled struct {
	key  key
	spec core.Schedule
	when schedule.Schedule
	next time.Time
	rel  string // the release whose spec it came from
}

// schedules runs the stages' schedules until ctx ends. Runs missed while
// the server was down are not made up: each schedule's next run is
// computed from when it is (re)loaded.
func (c *Controller) schedules(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var list []*scheduled
	for {
		list = c.reloadSchedules(list, time.Now())
		now := time.Now()
		for _, s := range list {
			if !s.next.IsZero() && !now.Before(s.next) {
				s.next = s.when.Next(now)
				c.wg.Add(1)
				go func(s scheduled) {
					defer c.wg.Done()
					c.fire(ctx, s)
				}(*s)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reloadSchedules keeps the schedules of the serving releases, carrying
// over the next run of those unchanged.
func (c *Controller) reloadSchedules(old []*scheduled, now time.Time) []*scheduled {
	prev := map[string]*scheduled{}
	for _, s := range old {
		prev[s.key.stack+"/"+s.key.stage+"/"+s.spec.Expression+"/"+s.spec.Path+"/"+s.spec.Method+"/"+s.spec.Body] = s
	}
	c.mu.Lock()
	var out []*scheduled
	for k, st := range c.stages {
		if st.rel == nil {
			continue
		}
		for _, sc := range st.spec.Schedules {
			id := k.stack + "/" + k.stage + "/" + sc.Expression + "/" + sc.Path + "/" + sc.Method + "/" + sc.Body
			if p := prev[id]; p != nil {
				out = append(out, p)
				continue
			}
			when, err := schedule.Parse(sc.Expression)
			if err != nil {
				continue // slipway.yml's parser refused it already
			}
			out = append(out, &scheduled{key: k, spec: sc, when: when, next: when.Next(now), rel: st.rel.ID})
		}
	}
	c.mu.Unlock()
	return out
}

// fire invokes a stage for one schedule run: a lambda handler gets an
// EventBridge scheduled event, an http handler the schedule's request.
func (c *Controller) fire(ctx context.Context, s scheduled) {
	log := c.log.With("stack", s.key.stack, "stage", s.key.stage, "schedule", s.spec.Expression)
	c.mu.Lock()
	st := c.stages[s.key]
	var handler string
	if st != nil {
		handler = st.spec.Handler
	}
	c.mu.Unlock()
	if st == nil {
		return
	}
	if handler == core.HandlerLambda {
		rule := "arn:aws:events:us-east-1:000000000000:rule/" + s.key.stack + "-" + s.key.stage + "-schedule"
		if _, err := c.Invoke(ctx, s.key.stack, s.key.stage, lambda.ScheduledEvent(rule, time.Now().UTC())); err != nil {
			log.Warn("scheduled invocation failed", "err", err)
			return
		}
		log.Info("scheduled invocation")
		return
	}
	method := s.spec.Method
	if method == "" {
		method = http.MethodGet
	}
	path := s.spec.Path
	if path == "" {
		path = "/"
	}
	host := core.Hostname(s.key.stack, s.key.stage, c.cfg.Domain)
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+path, strings.NewReader(s.spec.Body))
	if err != nil {
		log.Warn("scheduled request", "err", err)
		return
	}
	req.Host = host
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("User-Agent", "slipway-scheduler")
	req.Header.Set("X-Slipway-Schedule", s.spec.Expression)
	b, release, err := c.Acquire(ctx, &gateway.Route{Stack: s.key.stack, Stage: s.key.stage})
	if err != nil {
		log.Warn("scheduled request got no instance", "err", err)
		return
	}
	defer release()
	rec := &recorder{header: http.Header{}}
	b.Serve.ServeHTTP(rec, req)
	if rec.status >= 400 {
		log.Warn("scheduled request failed", "status", rec.status, "body", fmt.Sprintf("%.200s", rec.body.String()))
		return
	}
	log.Info("scheduled request", "status", rec.status)
}
