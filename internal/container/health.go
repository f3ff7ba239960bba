package container

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Health thresholds. The container-architecture issue makes these part
// of each stage's scale spec; until then they are fixed.
const (
	unhealthyAfter = 3 // consecutive failed probes before leaving routes
	probeTimeout   = 2 * time.Second
)

// health is what the controller knows of one instance.
type health struct {
	inst  core.Instance
	fails int
}

// prober sends health probes: plain GETs over fresh connections, no
// proxies from the environment, redirects not followed (3xx is healthy).
type prober struct{ client *http.Client }

func newProber() *prober {
	return &prober{client: &http.Client{
		Timeout: probeTimeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: time.Second}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// probe checks one instance. With the default health path, a 404 on
// /healthy falls back to "/", so apps without a health route still work.
// It returns the path that answered last, for error messages.
func (p *prober) probe(ctx context.Context, addr string, hs core.HealthSpec) (string, error) {
	path := hs.Path
	if path == "" {
		path = core.DefaultHealthPath
	}
	status, err := p.get(ctx, addr, path)
	if err == nil && status == http.StatusNotFound && !hs.Explicit && path != "/" {
		path = "/"
		status, err = p.get(ctx, addr, path)
	}
	if err != nil {
		return path, err
	}
	if status < 200 || status >= 400 {
		return path, fmt.Errorf("GET %s answered %d", path, status)
	}
	return path, nil
}

func (p *prober) get(ctx context.Context, addr, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "slipway-health/1")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// instanceOf describes an observed container in domain terms.
func instanceOf(ct engine.Container, port int) core.Instance {
	in := core.Instance{
		ID: ct.ID, Name: ct.Name, State: ct.State, ExitCode: ct.ExitCode,
		Stack: ct.Labels[core.LabelStack], Stage: ct.Labels[core.LabelStage], Release: ct.Labels[core.LabelRelease],
	}
	if ct.IPAddress != "" && port > 0 {
		in.Addr = net.JoinHostPort(ct.IPAddress, strconv.Itoa(port))
	}
	return in
}

// probeAll probes the kept instances concurrently and updates their
// health: one pass makes an instance healthy, unhealthyAfter consecutive
// failures make it unhealthy.
func (c *Controller) probeAll(ctx context.Context, keep []engine.Container) {
	var wg sync.WaitGroup
	for _, ct := range keep {
		rel, err := c.release(ctx, ct.Labels[core.LabelStack], ct.Labels[core.LabelRelease])
		if err != nil {
			continue
		}
		in := instanceOf(ct, rel.Spec.Port)
		if !ct.Running || in.Addr == "" {
			c.setHealth(in, false, true)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.prober.probe(ctx, in.Addr, rel.Spec.Health)
			c.setHealth(in, err == nil, false)
		}()
	}
	wg.Wait()
}

// setHealth records a probe result. hard marks the instance unhealthy at
// once (it is not running at all).
func (c *Controller) setHealth(in core.Instance, ok, hard bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.retiring[in.ID] {
		return
	}
	h, found := c.health[in.ID]
	if !found {
		h = &health{}
		c.health[in.ID] = h
	}
	wasHealthy := h.inst.Healthy
	h.inst = in
	switch {
	case ok:
		h.fails = 0
		h.inst.Healthy = true
	case hard:
		h.fails = unhealthyAfter
		h.inst.Healthy = false
	default:
		h.fails++
		h.inst.Healthy = wasHealthy && h.fails < unhealthyAfter
	}
}
