package container

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// probeTimeout bounds a probe when the caller's context does not.
const probeTimeout = 30 * time.Second

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
