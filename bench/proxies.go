package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// proxyScenarios is issue 6's comparison: wrk against the same kind of
// backend (the fixture with 2 vCPU, so the proxies, not the instance, are
// the limit) directly, through nginx and haproxy, and through Slipway's
// balancer and gateway (with an API key and a usage plan). nginx and
// haproxy are Debian's; a missing one is skipped with a note.
func (b *bench) proxyScenarios() error {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.row("proxy comparison skipped: wrk is not installed (apt-get install wrk)", "", "", "")
		return nil
	}
	dir := filepath.Join(b.dir, "fixture")
	manifest := `name: px
scale: {cpu: 2, memory: 4096, min: 1, max: 1}
stages:
  - name: lb
    endpoint: {kind: balancer}
  - name: gw
    endpoint:
      kind: gateway
      gateway:
        api_keys: required
        throttle: {rate: 1000000, burst: 1000000}
        usage_plans:
          bench: {rate: 1000000, burst: 1000000, quota: {limit: 1000000000, period: day}}
`
	os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte(manifest), 0o644)
	if _, err := b.cli(dir, "deploy", "-q"); err != nil {
		return err
	}
	out, err := b.cli(dir, "keys", "create", "px", "gw", "--name", "bench", "--plan", "bench")
	if err != nil {
		return err
	}
	key := regexp.MustCompile(`slk_[0-9a-f]+`).FindString(out)
	addr, err := b.stageAddr("px", "lb")
	if err != nil {
		return err
	}
	type target struct {
		name, url, host string
		headers         []string
		cpu             func() time.Duration // the proxy's CPU time so far
	}
	targets := []target{{name: "direct", url: "http://" + addr + "/ping"}}
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	if port, pid, stop, err := b.startNginx(addr); err != nil {
		b.row("  nginx skipped: "+err.Error(), "", "", "")
	} else {
		stops = append(stops, stop)
		targets = append(targets, target{name: "nginx", url: "http://127.0.0.1:" + port + "/ping",
			cpu: func() time.Duration { return groupCPU(pid) }})
	}
	if port, pid, stop, err := b.startHAProxy(addr); err != nil {
		b.row("  haproxy skipped: "+err.Error(), "", "", "")
	} else {
		stops = append(stops, stop)
		targets = append(targets, target{name: "haproxy", url: "http://127.0.0.1:" + port + "/ping",
			cpu: func() time.Duration { return procCPU(pid) }})
	}
	srvCPU := func() time.Duration { return procCPU(b.srv.Process.Pid) }
	targets = append(targets,
		target{name: "slipway balancer", url: "http://" + b.gw + "/ping", host: "lb.px.localhost", cpu: srvCPU},
		target{name: "slipway gateway (key + plan)", url: "http://" + b.gw + "/ping", host: "gw.px.localhost", headers: []string{"x-api-key: " + key}, cpu: srvCPU})
	results := map[string][]load{}
	for range *rounds {
		for _, t := range targets {
			var cpu0 time.Duration
			if t.cpu != nil {
				cpu0 = t.cpu()
			}
			l, err := runWrk(t.url, t.host, t.headers...)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if t.cpu != nil && l.rps > 0 {
				l.cpuPerReq = time.Duration(float64(t.cpu()-cpu0) / (l.rps * duration.Seconds()))
			}
			results[t.name] = append(results[t.name], l)
		}
	}
	direct, nginx := medianLoad(results["direct"]), medianLoad(results["nginx"])
	b.row(fmt.Sprintf("proxies: wrk -t2 -c%d, %s × %d rounds, median", *conns, *duration, *rounds), "req/s (× direct)", "p99", "× nginx req/s, p99; proxy CPU/req")
	for _, t := range targets {
		l := medianLoad(results[t.name])
		vsNginx := ""
		if nginx.rps > 0 && t.name != "nginx" && t.name != "direct" {
			vsNginx = fmt.Sprintf("%.2f, %.2f", l.rps/nginx.rps, l.p99/nginx.p99)
		}
		if t.cpu != nil {
			if vsNginx != "" {
				vsNginx += "; "
			}
			vsNginx += fmt.Sprintf("%.1f µs", float64(l.cpuPerReq.Nanoseconds())/1000)
		}
		errs := ""
		if l.errors > 0 {
			errs = fmt.Sprintf(" (%d errors)", l.errors)
		}
		b.row("  "+t.name+errs, fmt.Sprintf("%.0f (%.2f)", l.rps, l.rps/direct.rps), ms(l.p99), vsNginx)
	}
	return nil
}

// stageAddr is the address of a stage's first instance.
func (b *bench) stageAddr(stack, stage string) (string, error) {
	out, err := b.cli(b.dir, "status", stack, "-o", "json")
	if err != nil {
		return "", err
	}
	var st struct {
		Stages []struct {
			Name      string `json:"name"`
			Instances []struct {
				Addr string `json:"addr"`
			} `json:"instances"`
		} `json:"stages"`
	}
	json.Unmarshal([]byte(out), &st)
	for _, s := range st.Stages {
		if s.Name == stage && len(s.Instances) > 0 && s.Instances[0].Addr != "" {
			return s.Instances[0].Addr, nil
		}
	}
	return "", fmt.Errorf("stage %s of %s has no instance address: %s", stage, stack, out)
}

// freePort asks the kernel for a loopback port.
func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "18181"
	}
	defer l.Close()
	_, port, _ := strings.Cut(l.Addr().String(), ":")
	return port
}

// startNginx runs nginx as a reverse proxy to backend with the
// settings of perf-baselines.md (keepalive upstream).
// It returns nginx's port, the process group of its master and workers,
// and how to stop it.
func (b *bench) startNginx(backend string) (string, int, func(), error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", 0, nil, fmt.Errorf("nginx is not installed (apt-get install nginx)")
	}
	dir := filepath.Join(b.dir, "nginx")
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	port := freePort()
	conf := fmt.Sprintf(`worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream be { server %[2]s; keepalive 512; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:%[3]s;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, backend, port)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); cmd.Wait() }
	if err := waitPort(port); err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("nginx did not start: %v", err)
	}
	return port, cmd.Process.Pid, stop, nil
}

// startHAProxy runs haproxy as perf-baselines.md did.
func (b *bench) startHAProxy(backend string) (string, int, func(), error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return "", 0, nil, fmt.Errorf("haproxy is not installed (apt-get install haproxy)")
	}
	dir := filepath.Join(b.dir, "haproxy")
	os.MkdirAll(dir, 0o755)
	port := freePort()
	conf := fmt.Sprintf(`global
  maxconn 8000
  nbthread 2
defaults
  mode http
  option http-keep-alive
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:%s
  default_backend be
backend be
  http-reuse always
  server s1 %s maxconn 4000
`, port, backend)
	os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(conf), 0o644)
	cmd := exec.Command(bin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }
	if err := waitPort(port); err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("haproxy did not start: %v", err)
	}
	return port, cmd.Process.Pid, stop, nil
}

func waitPort(port string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
