package docker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestDaemonRestart checks that an engine survives its daemon going away
// and coming back, without being recreated: nothing in Docker may hold on
// to a dead connection. The real daemon is not restarted (other work runs
// on it); a proxy socket in front of it plays the daemon's part, dropping
// every connection and its socket as a restarting dockerd does.
func TestDaemonRestart(t *testing.T) {
	real := requireDocker(t) // skips under -short; names the real socket
	if !strings.HasPrefix(real.host, "unix://") {
		t.Skipf("the proxy only fronts a unix socket daemon, not %s", real.host)
	}
	proxy := &socketProxy{
		path:   filepath.Join(t.TempDir(), "docker.sock"),
		target: strings.TrimPrefix(real.host, "unix://"),
	}
	proxy.start(t)
	t.Cleanup(proxy.stop)
	t.Setenv(client.EnvOverrideHost, "unix://"+proxy.path)
	t.Setenv("DOCKER_API_VERSION", "")
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := testContext(t)
	missing := uniqueName(t)

	// calls answered by a live daemon: a GET, a POST (reaching the daemon
	// to be told the container is unknown), and a stream.
	live := func(when string) {
		t.Helper()
		if _, err := d.Ping(ctx); err != nil {
			t.Fatalf("%s: ping: %v", when, err)
		}
		if _, err := d.NetworkExists(ctx, missing); err != nil {
			t.Fatalf("%s: NetworkExists: %v", when, err)
		}
		if err := d.StartContainer(ctx, missing); !core.IsNotFound(err) {
			t.Fatalf("%s: StartContainer(missing) = %v, want not found", when, err)
		}
	}
	live("before")

	// A stream open when the daemon goes reports it and ends.
	events, errs := d.Events(ctx, map[string]string{testLabel: missing})
	proxy.stop()
	select {
	case err := <-errs:
		assertCode(t, err, core.CodeUnavailable)
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not report the daemon going away")
	}
	if _, open := <-events; open {
		t.Error("event channel still open after the stream failed")
	}
	// While it is down, calls say so.
	_, err = d.Ping(ctx)
	assertCode(t, err, core.CodeUnavailable)

	proxy.start(t)
	live("after the daemon came back")
	// Connections dropped between calls (pooled idle ones included) are
	// redialled, several times over.
	for i := range 3 {
		proxy.dropConnections()
		time.Sleep(50 * time.Millisecond) // a real restart takes seconds
		live(fmt.Sprintf("after dropped connections, round %d", i+1))
	}
	// A new stream can be opened (and stays open).
	_, errs = d.Events(ctx, map[string]string{testLabel: missing})
	select {
	case err := <-errs:
		t.Fatalf("events after the restart: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

// socketProxy forwards a unix socket to another, and can drop everything
// as a daemon restart does.
type socketProxy struct {
	path, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (p *socketProxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
}

func (p *socketProxy) serve(c net.Conn) {
	up, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		// Half-close, so an exec's stdin EOF reaches the daemon.
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track registers a connection pair unless the proxy is stopping.
func (p *socketProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// dropConnections closes every open connection, keeping the socket.
func (p *socketProxy) dropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// stop closes the socket and every connection, and removes the socket
// file, as a stopped daemon leaves things. It is idempotent.
func (p *socketProxy) stop() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.wg.Wait()
	if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		panic(err)
	}
}
