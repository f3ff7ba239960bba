package integration

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dockerProxy forwards a unix socket to the real Docker socket and can
// be cut and restored, standing in for a daemon restart without
// disturbing the daemon other tests use.
type dockerProxy struct {
	path  string
	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newDockerProxy(t *testing.T) *dockerProxy {
	p := &dockerProxy{path: filepath.Join(t.TempDir(), "docker.sock"), conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *dockerProxy) up(t *testing.T) {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[d] = true, true
			p.mu.Unlock()
			go func() { io.Copy(d, c); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
}

// down closes the listener and every connection: the daemon is gone.
func (p *dockerProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		os.Remove(p.path)
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestDockerDaemonOutage: while the daemon is unreachable the deployed
// stage keeps serving and a deploy fails with a clear message; when it
// is back, the server reconnects and deploys work again.
func TestDockerDaemonOutage(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("the daemon is not on /var/run/docker.sock; the proxy needs it")
	}
	proxy := newDockerProxy(t)
	t.Setenv("DOCKER_HOST", "unix://"+proxy.path)
	s := startServer(t)
	app := fixtureApp(t, "outage", "stages:\n  - name: dev\n    scale: {min: 2, max: 2, health: {interval: 1s, timeout: 500ms}}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "outage", 2, 30*time.Second)

	proxy.down()
	time.Sleep(3 * time.Second) // several passes fail meanwhile
	for i := 0; i < 20; i++ {
		if code, body, _ := s.gw("GET", "dev.outage.localhost", "/ping", ""); code != 200 || body != "pong" {
			t.Fatalf("the stage stopped serving while the daemon was away: %d %q", code, body)
		}
	}
	line := errorLine(t, s.run(app, "deploy", "-q"))
	if !strings.Contains(line, "cannot reach the Docker daemon") {
		t.Fatalf("deploy without a daemon: %q", line)
	}

	proxy.up(t)
	r := s.mustRun(app, "deploy", "-q")
	if !strings.Contains(r.stdout, "dev.outage.localhost") {
		t.Fatalf("deploy after the daemon came back: %q", r.stdout)
	}
	waitServing(t, s, "outage", 2, 30*time.Second)
}
