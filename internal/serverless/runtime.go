package serverless

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/slipwayhq/slipway/internal/engine"
)

// runtimeListener serves the Lambda Runtime API on one stack network, at
// the host's address on its bridge: only that network's containers (and
// the host) can reach it, and each is told apart by its address.
type runtimeListener struct {
	addr string
	srv  *http.Server
}

func (l *runtimeListener) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.srv.Shutdown(ctx)
	l.srv.Close()
}

// runtimeAddr is the AWS_LAMBDA_RUNTIME_API of instances on network,
// starting its listener on first use.
func (c *Controller) runtimeAddr(ctx context.Context, network string) (string, error) {
	c.mu.Lock()
	l := c.listeners[network]
	c.mu.Unlock()
	if l != nil {
		return l.addr, nil
	}
	gw, err := c.cfg.Engine.NetworkGateway(ctx, network)
	if err != nil {
		return "", fmt.Errorf("find the host's address on %s for the Runtime API: %w", network, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		return "", fmt.Errorf("serve the Runtime API on %s: %w", network, err)
	}
	l = &runtimeListener{addr: ln.Addr().String(), srv: &http.Server{Handler: c.runtime, ReadHeaderTimeout: 10 * time.Second}}
	c.mu.Lock()
	if prior := c.listeners[network]; prior != nil {
		c.mu.Unlock()
		ln.Close()
		return prior.addr, nil
	}
	c.listeners[network] = l
	c.mu.Unlock()
	go l.srv.Serve(ln)
	return l.addr, nil
}

func (c *Controller) closeListener(network string) {
	c.mu.Lock()
	l := c.listeners[network]
	delete(c.listeners, network)
	c.mu.Unlock()
	if l != nil {
		l.close()
	}
}

// identify maps a Runtime API caller to its instance by its address. An
// instance may call before its start has returned its address, so an
// unknown caller is waited for, briefly.
func (c *Controller) identify(r *http.Request) (string, bool) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		in := c.byIP[ip]
		changed := c.ipChanged
		c.mu.Unlock()
		if in != nil {
			return in.id, true
		}
		select {
		case <-changed:
		case <-deadline:
			return "", false
		case <-r.Context().Done():
			return "", false
		}
	}
}

// exitOf is how an instance that failed a request ended: as the reaper
// saw it, or as the engine reports it (waiting up to a second for the
// exit to show).
func (c *Controller) exitOf(in *instance) (engine.Container, bool) {
	c.mu.Lock()
	exit := in.exit
	c.mu.Unlock()
	if exit != nil {
		return *exit, true
	}
	return c.exited(in.id)
}

// exited waits up to a second for an instance whose connection broke to
// be seen stopped, and returns its state if it did.
func (c *Controller) exited(id string) (engine.Container, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		ct, err := c.cfg.Engine.InspectContainer(ctx, id)
		if err != nil {
			return engine.Container{}, false
		}
		if !ct.Running && ct.State != "paused" {
			return ct, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return engine.Container{}, false
}
