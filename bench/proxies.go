package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is one way to the comparison's backend.
type target struct {
	name, url, host string
	headers         []string
	cpu             func() time.Duration // the proxy's CPU time so far
	backend         int                  // the PID of the instance it sends to
}

// proxyScenarios is issue 6's comparison: wrk against the same kind of
// backend (the fixture with 2 vCPU, so the proxies, not the instance, are
// the limit) directly, through nginx and haproxy, and through Slipway's
// balancer and gateway (with an API key and a usage plan). nginx and
// haproxy are Debian's; a missing one is skipped with a note. nginx runs
// twice: as perf-baselines.md set it up, and doing the work Slipway's
// balancer does on top of forwarding (nginxSlipwayWork).
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
	gwAddr, err := b.stageAddr("px", "gw")
	if err != nil {
		return err
	}
	lbPID, gwPID := containerPID(addr), containerPID(gwAddr)
	targets := []target{{name: "direct", url: "http://" + addr + "/ping", backend: lbPID}}
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for _, n := range []struct{ name, dir, extra string }{{"nginx", "nginx", ""}, {nginxWork, "nginx-work", nginxSlipwayWork}} {
		if port, pid, stop, err := b.startNginx(addr, n.dir, n.extra); err != nil {
			b.row("  "+n.name+" skipped: "+err.Error(), "", "", "")
		} else {
			stops = append(stops, stop)
			targets = append(targets, target{name: n.name, url: "http://127.0.0.1:" + port + "/ping",
				cpu: func() time.Duration { return groupCPU(pid) }, backend: lbPID})
		}
	}
	if port, pid, stop, err := b.startHAProxy(addr); err != nil {
		b.row("  haproxy skipped: "+err.Error(), "", "", "")
	} else {
		stops = append(stops, stop)
		targets = append(targets, target{name: "haproxy", url: "http://127.0.0.1:" + port + "/ping",
			cpu: func() time.Duration { return procCPU(pid) }, backend: lbPID})
	}
	srvCPU := func() time.Duration { return procCPU(b.srv.Process.Pid) }
	targets = append(targets,
		target{name: "slipway balancer", url: "http://" + b.gw + "/ping", host: "lb.px.localhost", cpu: srvCPU, backend: lbPID},
		target{name: "slipway gateway (key + plan)", url: "http://" + b.gw + "/ping", host: "gw.px.localhost", headers: []string{"x-api-key: " + key}, cpu: srvCPU, backend: gwPID})
	// As perf-baselines.md measured nginx and haproxy: every target is
	// warmed up first, and a run is made again (up to maxTries times)
	// when processes other than wrk, the proxy and the instance used more
	// than a share noisyShare of the machine; a run still noisy after the
	// last try is kept and counted.
	for _, t := range targets {
		if _, err := runWrkWith(2, *conns, warmUp, t.url, t.host, t.headers...); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	// The machine's speed drifts by a fifth or more from one run to the
	// next, so every ratio is taken between runs of the same round,
	// and the order of the targets is reversed every other round: with an
	// even number of rounds each target runs as often early as late in
	// a round. Each ratio printed is the median of the rounds' ratios.
	results := map[string][]load{}
	retried, noisy := map[string]int{}, map[string]int{}
	for round := range *rounds {
		for i := range targets {
			t := targets[i]
			if round%2 == 1 {
				t = targets[len(targets)-1-i]
			}
			for try := 1; ; try++ {
				l, others, err := measure(t)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				if *verbose {
					fmt.Fprintf(os.Stderr, "proxies round %d: %-30s %6.0f req/s, p50 %s, p99 %s, CPU/req %s (instance %s, machine %s); others %.1f%%\n",
						round+1, t.name, l.rps, ms(l.p50), ms(l.p99), us(l.cpuPerReq), us(l.instPerReq), us(l.machPerReq), others*100)
				}
				if others <= noisyShare || try == maxTries {
					if others > noisyShare {
						noisy[t.name]++
					}
					results[t.name] = append(results[t.name], l)
					break
				}
				retried[t.name]++
			}
		}
	}
	b.row(fmt.Sprintf("proxies: wrk -t2 -c%d, %s × %d rounds (order reversed every other), median", *conns, *duration, *rounds),
		"req/s (× direct)", "p99", "× nginx req/s, p99; proxy CPU/req")
	for _, t := range targets {
		l := medianLoad(results[t.name])
		vsNginx := ""
		if len(results["nginx"]) > 0 && t.name != "nginx" && t.name != "direct" {
			vsNginx = fmt.Sprintf("%.2f, %.2f", pairedRatio(results[t.name], results["nginx"], loadRPS),
				pairedRatio(results[t.name], results["nginx"], loadP99))
		}
		if t.cpu != nil {
			if vsNginx != "" {
				vsNginx += "; "
			}
			vsNginx += us(l.cpuPerReq)
		}
		errs := ""
		if l.errors > 0 {
			errs = fmt.Sprintf(" (%d errors)", l.errors)
		}
		b.row("  "+t.name+errs, fmt.Sprintf("%.0f (%.2f)", l.rps, pairedRatio(results[t.name], results["direct"], loadRPS)), ms(l.p99), vsNginx)
	}
	var again []string
	for _, t := range targets {
		if retried[t.name] > 0 {
			again = append(again, fmt.Sprintf("%s %d (%d kept noisy)", t.name, retried[t.name], noisy[t.name]))
		}
	}
	if len(again) > 0 {
		b.row(fmt.Sprintf("  runs made again, others over %.0f%% of the machine: %s", noisyShare*100, strings.Join(again, ", ")), "", "", "")
	}
	// Where each target's requests cost CPU: the proxy, the instance (the
	// headers a proxy adds cost it too), and the whole machine, wrk's
	// load and the kernel's network work included.
	b.row("  CPU per request, medians", "proxy", "instance", "whole machine")
	for _, t := range targets {
		l := medianLoad(results[t.name])
		proxy := "—"
		if t.cpu != nil {
			proxy = us(l.cpuPerReq)
		}
		b.row("    "+t.name, proxy, us(l.instPerReq), us(l.machPerReq))
	}
	// The same-work comparison: what Slipway's proxies cost beyond what
	// nginx costs doing the same job.
	if len(results[nginxWork]) > 0 {
		for _, t := range targets {
			if strings.HasPrefix(t.name, "slipway") {
				b.row("  "+t.name+" × "+nginxWork, "", "", fmt.Sprintf("%.2f, %.2f",
					pairedRatio(results[t.name], results[nginxWork], loadRPS), pairedRatio(results[t.name], results[nginxWork], loadP99)))
			}
		}
	}
	var nginx, balancer *target
	for i := range targets {
		switch targets[i].name {
		case "nginx":
			nginx = &targets[i]
		case "slipway balancer":
			balancer = &targets[i]
		}
	}
	if nginx != nil {
		return b.besideNginx(*nginx, *balancer)
	}
	return nil
}

// besideNginx loads nginx and the balancer at the same time, half the
// connections each, and compares what each proxy spends per request:
// measured in the same seconds, the machine's drift cancels out.
func (b *bench) besideNginx(nginx, balancer target) error {
	const runs = 2
	var nl, bl []load
	for range runs {
		n0, b0 := nginx.cpu(), balancer.cpu()
		var ln load
		var errN error
		done := make(chan struct{})
		go func() {
			defer close(done)
			ln, errN = runWrkWith(1, *conns/2, *duration, nginx.url, nginx.host)
		}()
		lb, err := runWrkWith(1, *conns/2, *duration, balancer.url, balancer.host)
		<-done
		if err = errors.Join(err, errN); err != nil {
			return fmt.Errorf("balancer beside nginx: %w", err)
		}
		ln.cpuPerReq = time.Duration(float64(nginx.cpu()-n0) / (ln.rps * duration.Seconds()))
		lb.cpuPerReq = time.Duration(float64(balancer.cpu()-b0) / (lb.rps * duration.Seconds()))
		if *verbose {
			fmt.Fprintf(os.Stderr, "proxies side by side: nginx %6.0f req/s, CPU/req %s; balancer %6.0f req/s, CPU/req %s\n",
				ln.rps, us(ln.cpuPerReq), lb.rps, us(lb.cpuPerReq))
		}
		nl, bl = append(nl, ln), append(bl, lb)
	}
	l := medianLoad(bl)
	b.row(fmt.Sprintf("  balancer beside nginx, same seconds (wrk -t1 -c%d each, %d runs)", *conns/2, runs),
		fmt.Sprintf("%.0f", l.rps), ms(l.p99), fmt.Sprintf("%.2f, %.2f; CPU/req %.2f× nginx's",
			pairedRatio(bl, nl, loadRPS), pairedRatio(bl, nl, loadP99), pairedRatio(bl, nl, loadCPU)))
	return nil
}

// The noise rules of perf-baselines.md: a 2 s warm-up per target, and a
// run made again, up to 6 tries, when processes other than wrk, the proxy
// and the instance used more than 6% of the machine.
const (
	warmUp     = 2 * time.Second
	noisyShare = 0.06
	maxTries   = 6
)

// measure runs wrk against t once. others is the share of the machine's
// CPU capacity that went, during the run, to anything but wrk, t's proxy
// and its instance; 0 when the instance's process is not known.
func measure(t target) (m load, others float64, err error) {
	var proxy0 time.Duration
	if t.cpu != nil {
		proxy0 = t.cpu()
	}
	busy0, be0, start := busyCPU(), procCPU(t.backend), time.Now()
	m, err = runWrk(t.url, t.host, t.headers...)
	if err != nil {
		return m, 0, err
	}
	wall := time.Since(start)
	var proxy time.Duration
	if t.cpu != nil {
		proxy = t.cpu() - proxy0
	}
	busy, be := busyCPU()-busy0, procCPU(t.backend)-be0
	reqs := max(m.rps*duration.Seconds(), 1)
	perReq := func(d time.Duration) time.Duration { return time.Duration(float64(d) / reqs) }
	m.cpuPerReq, m.instPerReq, m.machPerReq = perReq(proxy), perReq(be), perReq(busy)
	if t.backend == 0 {
		return m, 0, nil
	}
	rest := busy - m.wrkCPU - proxy - be
	return m, max(float64(rest), 0) / (float64(wall) * float64(numCPU())), nil
}

// us prints d in µs.
func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1000) }

func loadRPS(l load) float64 { return l.rps }
func loadP99(l load) float64 { return l.p99 }
func loadCPU(l load) float64 { return float64(l.cpuPerReq) }

// pairedRatio is the median over rounds of f(a)/f(b), a and b being the
// same round's runs of two targets.
func pairedRatio(a, b []load, f func(load) float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if f(b[i]) > 0 {
			rs = append(rs, f(a[i])/f(b[i]))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	return medianOf(rs)
}

// stageAddr is the address of a stage's first instance.
func (b *bench) stageAddr(stack, stage string) (string, error) {
	ins, err := b.instances(stack, stage)
	if err != nil {
		return "", err
	}
	if len(ins) == 0 || ins[0].Addr == "" {
		return "", fmt.Errorf("stage %s of %s has no instance address: %+v", stage, stack, ins)
	}
	return ins[0].Addr, nil
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
// settings of perf-baselines.md (keepalive upstream), in b.dir/name, with
// extra in its location block. It returns nginx's port, the process
// group of its master and workers, and how to stop it.
func (b *bench) startNginx(backend, name, extra string) (string, int, func(), error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", 0, nil, fmt.Errorf("nginx is not installed (apt-get install nginx)")
	}
	dir := filepath.Join(b.dir, name)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	port := freePort()
	conf := fmt.Sprintf(`worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  log_format slipway escape=json '{"time":"$time_iso8601","request_id":"$request_id","method":"$request_method","host":"$host","path":"$uri","status":$status,"bytes":$body_bytes_sent,"latency_ms":$request_time,"instance":"$upstream_addr","client_ip":"$remote_addr"}';
  keepalive_requests 1000000;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream be { server %[2]s; keepalive 512; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:%[3]s;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";%[4]s }
  }
}
`, dir, backend, port, extra)
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

// nginxWork names the nginx that does nginxSlipwayWork.
const nginxWork = "nginx doing Slipway's work"

// nginxSlipwayWork makes nginx do what Slipway's balancer does beyond
// forwarding, as a reverse proxy in front of an app usually is set up:
// X-Forwarded-For, -Host and -Proto and an X-Request-Id to the app, the
// id to the client too, and a JSON access log (buffered, as Slipway's
// is written off the request path) with the fields of Slipway's.
const nginxSlipwayWork = `
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
      add_header X-Request-Id $request_id always;
      access_log logs/access.json slipway buffer=256k flush=1s;`

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

// containerPID is the host PID of the container whose IP address is
// addr's, or 0 if none is found.
func containerPID(addr string) int {
	ip, _, _ := strings.Cut(addr, ":")
	ids, _ := exec.Command("docker", "ps", "-q").Output()
	for _, id := range strings.Fields(string(ids)) {
		out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}{{range .NetworkSettings.Networks}} {{.IPAddress}}{{end}}", id).Output()
		f := strings.Fields(string(out))
		if len(f) > 1 && slices.Contains(f[1:], ip) {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
	}
	return 0
}

// busyCPU is the CPU time the machine spent so far on anything but
// idling (/proc/stat).
func busyCPU() time.Duration {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	var busy int64
	for i, f := range strings.Fields(line) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || i == 4 || i == 5 { // "cpu", idle, iowait
			continue
		}
		if i <= 8 { // user nice system idle iowait irq softirq steal; guest time is in user
			busy += v
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}
