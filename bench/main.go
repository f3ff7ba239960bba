// Command bench is `make bench`: it starts a throwaway Slipway server,
// deploys the go-crud starter, and measures side by side, in one run:
//   - deploy: a no-change `slipway deploy` until the new release serves;
//   - restart: server start until an adopted instance serves again;
//   - the gateway's req/s and p50/p99 latency against the same instance
//     hit directly, as ratios (wrk if installed, else a Go load loop).
//
// Figures are printed, never asserted: machines are noisy.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	bin      = flag.String("bin", "bin/slipway", "slipway binary")
	deploys  = flag.Int("deploys", 5, "no-change redeploys to time")
	duration = flag.Duration("duration", 8*time.Second, "length of each load run")
	conns    = flag.Int("c", 64, "concurrent connections")
	rounds   = flag.Int("rounds", 4, "interleaved load rounds per target (even: the proxy comparison reverses its order every other round)")
	verbose  = flag.Bool("v", false, "print every load run of the proxy comparison")
	only     = flag.String("only", "", "run one part only: proxies (the issue 6 comparison) or containers (rollout and scale-out); empty: everything")
)

func main() {
	flag.Parse()
	b := &bench{}
	defer b.cleanup()
	if err := b.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		b.cleanup()
		os.Exit(1)
	}
}

type bench struct {
	dir, ns      string
	srv          *exec.Cmd
	api, gw, reg string
	rows         [][]string
}

func (b *bench) run() error {
	var err error
	if *bin, err = filepath.Abs(*bin); err != nil {
		return err
	}
	b.dir, _ = os.MkdirTemp("", "slipway-bench-")
	b.ns = "bench" + randHex(3)
	if _, err := b.start(); err != nil {
		return err
	}
	switch *only {
	case "":
	case "proxies":
		if err := b.writeFixture(); err != nil {
			return err
		}
		if err := b.proxyScenarios(); err != nil {
			return err
		}
		b.print()
		return nil
	case "containers":
		if err := b.containerScenarios(); err != nil {
			return err
		}
		b.print()
		return nil
	default:
		return fmt.Errorf("-only %q: allowed are proxies and containers, or nothing for every part", *only)
	}
	if _, err := b.cli(b.dir, "init", "hello"); err != nil {
		return err
	}
	app := filepath.Join(b.dir, "hello")
	t0 := time.Now()
	if _, err := b.cli(app, "deploy", "-q"); err != nil {
		return err
	}
	first := time.Since(t0)

	var times []time.Duration
	for i := 0; i < *deploys; i++ {
		t0 := time.Now()
		if _, err := b.cli(app, "deploy", "-q"); err != nil {
			return err
		}
		d := time.Since(t0)
		if code, body := b.get("/ping"); code != 200 || body != "pong" {
			return fmt.Errorf("after deploy %d the gateway answered %d %q", i+1, code, body)
		}
		times = append(times, d)
	}
	b.row("first deploy of a new stack (go build, image build, push, start)", fmt.Sprintf("%.2f s", first.Seconds()), "", "")
	b.row(fmt.Sprintf("no-change deploy → new release serving (n=%d)", len(times)),
		fmt.Sprintf("median %.2f s", median(times).Seconds()),
		fmt.Sprintf("min %.2f / max %.2f s", minD(times).Seconds(), maxD(times).Seconds()), "")

	// Restart: stop the server, start it, time until the adopted instance serves.
	b.stop()
	t0 = time.Now()
	ready, err := b.start()
	if err != nil {
		return err
	}
	for {
		if code, _ := b.get("/ping"); code == 200 {
			break
		}
		if time.Since(t0) > 30*time.Second {
			return fmt.Errorf("adopted instance not serving 30s after restart")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.row("server restart → adopted instance serving", fmt.Sprintf("%.0f ms", float64(time.Since(t0).Microseconds())/1000),
		fmt.Sprintf("(process ready after %.0f ms)", float64(ready.Microseconds())/1000), "")

	addr, err := b.instanceAddr()
	if err != nil {
		return err
	}
	gwURL, directURL := "http://"+b.gw+"/ping", "http://"+addr+"/ping"
	host := "dev.hello.localhost"
	tool := "wrk"
	if _, err := exec.LookPath("wrk"); err != nil {
		tool = "go-load"
	}
	var gwRes, dRes []load
	var gwCPU time.Duration
	var gwReqs float64
	for i := 0; i < *rounds; i++ {
		r, err := runLoad(tool, directURL, "")
		if err != nil {
			return err
		}
		dRes = append(dRes, r)
		cpu0 := procCPU(b.srv.Process.Pid)
		r, err = runLoad(tool, gwURL, host)
		if err != nil {
			return err
		}
		gwCPU += procCPU(b.srv.Process.Pid) - cpu0
		gwReqs += r.rps * duration.Seconds()
		gwRes = append(gwRes, r)
	}
	d, g := medianLoad(dRes), medianLoad(gwRes)
	b.row(fmt.Sprintf("load: %s -c%d, %s × %d rounds, median", tool, *conns, *duration, *rounds), "gateway", "direct", "gateway/direct")
	// Past the stage's throttle (10,000 req/s by default) the gateway
	// answers 429, which a fast machine reaches: answers and successes
	// are counted apart.
	b.row("  requests/s, all answers", fmt.Sprintf("%.0f", g.rps), fmt.Sprintf("%.0f", d.rps), fmt.Sprintf("%.2f", g.rps/d.rps))
	b.row("  requests/s, 2xx only", fmt.Sprintf("%.0f", okRPS(gwRes)), fmt.Sprintf("%.0f", okRPS(dRes)), fmt.Sprintf("%.2f", okRPS(gwRes)/okRPS(dRes)))
	b.row("  p50 latency", ms(g.p50), ms(d.p50), fmt.Sprintf("%.2f", g.p50/d.p50))
	b.row("  p99 latency", ms(g.p99), ms(d.p99), fmt.Sprintf("%.2f", g.p99/d.p99))
	b.row("  slipway server CPU per proxied request", fmt.Sprintf("%.0f µs", float64(gwCPU.Microseconds())/gwReqs), "", "")
	// The stage autoscales under this load (the server samples every
	// second here), so the gateway can spread it over more instances
	// than the one direct loads.
	if ins, err := b.instances("hello", "dev"); err == nil && len(ins) > 1 {
		b.row(fmt.Sprintf("  note: 0.25 vCPU each; direct loads one instance, the stage had %d by the end", len(ins)), "", "", "")
	} else {
		b.row("  note: the instance runs with the default 0.25 vCPU limit, which caps both paths", "", "", "")
	}
	b.row("  non-2xx or errors (all rounds; with the throttle's 429s)", fmt.Sprint(g.errors), fmt.Sprint(d.errors), "")
	if err := b.containerScenarios(); err != nil {
		return err
	}
	if err := b.serverlessScenarios(); err != nil {
		return err
	}
	// The proxies are compared on a server that runs only what they
	// measure: the earlier scenarios' instances, whose stats it collects
	// and whose stages it autoscales, would cost it CPU nginx and haproxy
	// do not pay.
	for _, stack := range []string{"fx", "fxs"} {
		if _, err := b.cli(b.dir, "rm", stack); err != nil {
			return err
		}
	}
	if err := b.proxyScenarios(); err != nil {
		return err
	}
	if err := b.pipelineScenarios(app); err != nil {
		return err
	}
	b.print()
	return nil
}

// writeFixture copies the fixture app's sources to <dir>/fixture, where
// the scenarios deploy it from.
func (b *bench) writeFixture() error {
	dir := filepath.Join(b.dir, "fixture")
	os.MkdirAll(dir, 0o755)
	src := filepath.Join("integration", "testdata", "fixture")
	for from, to := range map[string]string{"main.go": "main.go", "Dockerfile": "Dockerfile", "build.yml": "build.yml", "go.mod.fixture": "go.mod"} {
		data, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			return fmt.Errorf("bench runs from the repository root: %w", err)
		}
		os.WriteFile(filepath.Join(dir, to), data, 0o644)
	}
	return nil
}

// containerScenarios measures issue 3's figures on the fixture app: a
// rollout of a 2-instance stage under load, and the time from the start
// of an overload to a new instance serving.
func (b *bench) containerScenarios() error {
	if err := b.writeFixture(); err != nil {
		return err
	}
	dir := filepath.Join(b.dir, "fixture")
	manifest := "name: fx\nstages:\n  - name: dev\n    scale: {min: 2, max: 3, cpu_target: 50, scale_out_cooldown: 5s, scale_in_cooldown: 2s, drain: 2s, health: {interval: 1s, timeout: 500ms}}\n"
	os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte(manifest), 0o644)
	if _, err := b.cli(dir, "deploy", "-q"); err != nil {
		return err
	}
	if err := b.waitInstances("fx", 2, 60*time.Second); err != nil {
		return err
	}
	// Rollout under load: a load loop through the gateway for the whole
	// deploy plus the old instances' drain.
	stop := make(chan struct{})
	res := make(chan load, 1)
	go func() { res <- loopLoad("http://"+b.gw+"/ping", "dev.fx.localhost", 8, stop) }()
	time.Sleep(time.Second)
	t0 := time.Now()
	if _, err := b.cli(dir, "deploy", "-q"); err != nil {
		close(stop)
		return err
	}
	rollout := time.Since(t0)
	time.Sleep(3 * time.Second)
	close(stop)
	l := <-res
	// The load can pass the stage's default throttle (10,000 req/s) on
	// a fast machine; its 429s are the throttle's, not the rollout's.
	b.row("rollout of 2 instances under load (deploy → new release serving)", fmt.Sprintf("%.2f s", rollout.Seconds()),
		fmt.Sprintf("%.0f req/s, %d failed, %d throttled (429)", l.rps, l.errors, l.throttled), "")

	// Overload: from 2 idle instances, burn CPU through the gateway until
	// a third one serves.
	if err := b.waitExactly("fx", 2, 90*time.Second); err != nil {
		return err
	}
	stop = make(chan struct{})
	go func() { res <- loopLoad("http://"+b.gw+"/burn?ms=25", "dev.fx.localhost", 8, stop) }()
	t0 = time.Now()
	err := b.waitInstances("fx", 3, 90*time.Second)
	overload := time.Since(t0)
	close(stop)
	<-res
	if err != nil {
		return err
	}
	b.row("overload start → new instance serving (sample 1s, window 5s)", fmt.Sprintf("%.1f s", overload.Seconds()), "", "")
	return nil
}

// pipelineScenarios measures issue 4's figures on the starter: a git
// push of a commit with no code change until dev serves it, and a
// rollback.
func (b *bench) pipelineScenarios(app string) error {
	home := filepath.Join(b.dir, "home")
	os.MkdirAll(home, 0o755)
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "HOME="+home, "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@x",
			"GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v %s", args, err, out)
		}
		return nil
	}
	creds, err := os.ReadFile(filepath.Join(b.dir, "data", "credentials"))
	if err != nil {
		return err
	}
	token := ""
	for _, l := range strings.Split(string(creds), "\n") {
		if v, ok := strings.CutPrefix(l, "SLIPWAY_TOKEN="); ok {
			token = strings.Trim(v, "'")
		}
	}
	remote := "http://slipway:" + token + "@" + strings.TrimPrefix(b.api, "http://") + "/git/hello.git"
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "one"}, {"push", "-q", remote, "main"}} {
		if err := git(args...); err != nil {
			return err
		}
	}
	if err := b.waitBuilds("hello", "push", 1, 120*time.Second); err != nil {
		return err
	}
	var times []time.Duration
	for i := 0; i < 3; i++ {
		if err := git("commit", "-q", "--allow-empty", "-m", "no change"); err != nil {
			return err
		}
		t0 := time.Now()
		if err := git("push", "-q", remote, "main"); err != nil {
			return err
		}
		if err := b.waitBuilds("hello", "push", i+2, 60*time.Second); err != nil {
			return err
		}
		times = append(times, time.Since(t0))
	}
	b.row("git push (no code change) → dev serving the new release (n=3)", fmt.Sprintf("median %.2f s", median(times).Seconds()),
		fmt.Sprintf("min %.2f / max %.2f s", minD(times).Seconds(), maxD(times).Seconds()), "")
	t0 := time.Now()
	if _, err := b.cli(app, "rollback", "hello", "dev"); err != nil {
		return err
	}
	b.row("slipway rollback → the earlier release serving", fmt.Sprintf("%.2f s", time.Since(t0).Seconds()), "", "")
	return nil
}

// waitBuilds waits until a stack has n successful builds with a trigger
// and the last one's release serves its first stage.
func (b *bench) waitBuilds(stack, trigger string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := b.cli(b.dir, "status", stack, "-o", "json")
		if err == nil {
			var st struct {
				LastBuild *struct {
					ID, Status, Trigger string
				} `json:"last_build"`
				Stages []struct {
					Status  string `json:"status"`
					Release *struct {
						Build string `json:"build"`
					} `json:"release"`
				} `json:"stages"`
			}
			json.Unmarshal([]byte(out), &st)
			if lb := st.LastBuild; lb != nil && lb.Trigger == trigger && lb.Status == "succeeded" && countBuilds(b, stack, trigger) >= n &&
				st.Stages[0].Release != nil && st.Stages[0].Release.Build == lb.ID && st.Stages[0].Status == "serving" {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: no %d serving %s builds within %s", stack, n, trigger, timeout)
}

func countBuilds(b *bench, stack, trigger string) int {
	out, err := b.cli(b.dir, "builds", stack, "-o", "json")
	if err != nil {
		return 0
	}
	var builds []struct{ Status, Trigger string }
	json.Unmarshal([]byte(out), &builds)
	n := 0
	for _, bd := range builds {
		if bd.Trigger == trigger && bd.Status == "succeeded" {
			n++
		}
	}
	return n
}

// waitExactly waits until a stack's first stage runs exactly n instances
// (after a scale in, say).
func (b *bench) waitExactly(stack string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := b.cli(b.dir, "status", stack, "-o", "json")
		if err == nil {
			var st struct {
				Stages []struct {
					Desired   int `json:"desired"`
					Instances []struct {
						State string `json:"state"`
					} `json:"instances"`
				} `json:"stages"`
			}
			json.Unmarshal([]byte(out), &st)
			running := 0
			for _, in := range st.Stages[0].Instances {
				if in.State == "running" {
					running++
				}
			}
			if st.Stages[0].Desired == n && running == n {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not settle at %d instances within %s", stack, n, timeout)
}

// waitInstances waits until a stack's first stage has n healthy instances.
func (b *bench) waitInstances(stack string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := b.cli(b.dir, "status", stack, "-o", "json")
		if err == nil {
			var st struct {
				Stages []struct {
					Instances []struct {
						Healthy bool   `json:"healthy"`
						State   string `json:"state"`
					} `json:"instances"`
				} `json:"stages"`
			}
			json.Unmarshal([]byte(out), &st)
			healthy := 0
			for _, in := range st.Stages[0].Instances {
				if in.Healthy && in.State == "running" {
					healthy++
				}
			}
			if healthy >= n {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s never reached %d healthy instances within %s", stack, n, timeout)
}

// loopLoad sends GETs from several keep-alive workers until stop closes.
func loopLoad(url, host string, workers int, stop chan struct{}) load {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, Proxy: nil}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mu sync.Mutex
	n, bad, throttled := 0, 0, 0
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Host = host
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 200
				limited := err == nil && resp.StatusCode == http.StatusTooManyRequests
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				n++
				switch {
				case limited:
					throttled++
				case !ok:
					bad++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	return load{rps: float64(n) / time.Since(t0).Seconds(), errors: bad, throttled: throttled}
}

func (b *bench) row(cells ...string) { b.rows = append(b.rows, cells) }

func (b *bench) print() {
	w := make([]int, 4)
	for _, r := range b.rows {
		for i, c := range r {
			if len(c) > w[i] {
				w[i] = len(c)
			}
		}
	}
	fmt.Println()
	fmt.Printf("Slipway bench — %s, %d CPUs\n\n", time.Now().Format("2006-01-02 15:04"), numCPU())
	for _, r := range b.rows {
		for i, c := range r {
			fmt.Printf("%-*s  ", w[i], c)
		}
		fmt.Println()
	}
}

var readyRE = regexp.MustCompile(`msg="slipway server ready".* api=(\S+) gateway=(\S+) registry=(\S+)`)

// start starts the server and returns how long it took to be ready.
func (b *bench) start() (time.Duration, error) {
	t0 := time.Now()
	b.srv = exec.Command(*bin, "server", "--data-dir", filepath.Join(b.dir, "data"), "--api-addr", "127.0.0.1:0",
		"--gateway-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--namespace", b.ns,
		"--autoscale-interval", "1s", "--autoscale-window", "5s")
	stderr, _ := b.srv.StderrPipe()
	if err := b.srv.Start(); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(stderr)
	var logs []string
	for sc.Scan() {
		logs = append(logs, sc.Text())
		if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
			b.api, b.gw, b.reg = m[1], m[2], m[3]
			go io.Copy(io.Discard, stderr)
			return time.Since(t0), nil
		}
	}
	return 0, fmt.Errorf("server exited:\n%s", strings.Join(logs, "\n"))
}

func (b *bench) stop() {
	if b.srv != nil && b.srv.Process != nil {
		b.srv.Process.Signal(syscall.SIGTERM)
		b.srv.Wait()
		b.srv = nil
	}
}

func (b *bench) cleanup() {
	if b.dir == "" {
		return
	}
	b.stop()
	label := "label=io.slipway.namespace=" + b.ns
	if ids, _ := exec.Command("docker", "ps", "-aq", "--filter", label).Output(); len(bytes.TrimSpace(ids)) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(ids))...)...).Run()
	}
	if ids, _ := exec.Command("docker", "network", "ls", "-q", "--filter", label).Output(); len(bytes.TrimSpace(ids)) > 0 {
		exec.Command("docker", append([]string{"network", "rm"}, strings.Fields(string(ids))...)...).Run()
	}
	if b.reg != "" {
		out, _ := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
		for _, ref := range strings.Fields(string(out)) {
			if strings.HasPrefix(ref, b.reg+"/") {
				exec.Command("docker", "rmi", "-f", ref).Run()
			}
		}
	}
	os.RemoveAll(b.dir)
	b.dir = ""
}

func (b *bench) cli(dir string, args ...string) (string, error) {
	cmd := exec.Command(*bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLIPWAY_DATA_DIR="+filepath.Join(b.dir, "data"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("slipway %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (b *bench) get(path string) (int, string) {
	req, _ := http.NewRequest("GET", "http://"+b.gw+path, nil)
	req.Host = "dev.hello.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *bench) instanceAddr() (string, error) {
	ins, err := b.instances("hello", "dev")
	if err != nil {
		return "", err
	}
	for _, in := range ins {
		if in.Healthy {
			return in.Addr, nil
		}
	}
	return "", fmt.Errorf("no healthy instance of hello's dev stage: %+v", ins)
}

// instanceStatus is an instance as `slipway status -o json` shows it.
type instanceStatus struct {
	Addr    string `json:"addr"`
	Healthy bool   `json:"healthy"`
}

// instances lists the instances of a stack's stage.
func (b *bench) instances(stack, stage string) ([]instanceStatus, error) {
	out, err := b.cli(b.dir, "status", stack, "-o", "json")
	if err != nil {
		return nil, err
	}
	var st struct {
		Stages []struct {
			Name      string           `json:"name"`
			Instances []instanceStatus `json:"instances"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("status of %s: %w", stack, err)
	}
	for _, s := range st.Stages {
		if s.Name == stage {
			return s.Instances, nil
		}
	}
	return nil, fmt.Errorf("%s has no stage %s: %s", stack, stage, out)
}

// load is one load run's result; latencies in milliseconds.
type load struct {
	rps, p50, p99 float64
	errors        int
	throttled     int           // 429s, where counted apart from errors (loopLoad)
	cpuPerReq     time.Duration // the proxy's CPU per request, where measured
	instPerReq    time.Duration // the instance's CPU per request, where measured
	machPerReq    time.Duration // the whole machine's busy CPU per request, where measured
	wrkCPU        time.Duration // wrk's own CPU time, where wrk ran
}

func runLoad(tool, url, host string) (load, error) {
	if tool == "wrk" {
		return runWrk(url, host)
	}
	return goLoad(url, host), nil
}

var (
	wrkRPS  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLat  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	wrkErrs = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSock = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(url, host string, headers ...string) (load, error) {
	return runWrkWith(2, *conns, *duration, url, host, headers...)
}

// runWrkWith is runWrk with threads threads and c connections for d.
func runWrkWith(threads, c int, d time.Duration, url, host string, headers ...string) (load, error) {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(c), "-d" + d.String(), "--latency"}
	if host != "" {
		args = append(args, "-H", "Host: "+host)
	}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.Command("wrk", append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	l := load{wrkCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	s := string(out)
	if m := wrkRPS.FindStringSubmatch(s); m != nil {
		l.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range wrkLat.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			l.p50 = v
		} else {
			l.p99 = v
		}
	}
	if m := wrkErrs.FindStringSubmatch(s); m != nil {
		l.errors, _ = strconv.Atoi(m[1])
	}
	if m := wrkSock.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			l.errors += n
		}
	}
	if l.rps == 0 {
		return l, fmt.Errorf("could not read wrk output:\n%s", s)
	}
	return l, nil
}

// goLoad is the fallback when wrk is not installed: keep-alive clients
// in a loop, recording every latency.
func goLoad(url, host string) load {
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, Proxy: nil}
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []float64
	errs := 0
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []float64
			bad := 0
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				if host != "" {
					req.Host = host
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 400 {
					bad++
				}
				mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	sort.Float64s(lat)
	if len(lat) == 0 {
		return load{errors: errs}
	}
	return load{rps: float64(len(lat)) / duration.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], errors: errs}
}

// okRPS is the median over runs of the successful requests a second:
// wrk's rate less its non-2xx answers and socket errors.
func okRPS(ls []load) float64 {
	v := make([]float64, len(ls))
	for i, l := range ls {
		v[i] = max(l.rps-float64(l.errors)/duration.Seconds(), 0)
	}
	return medianOf(v)
}

func medianLoad(ls []load) load {
	pick := func(f func(load) float64) float64 {
		v := make([]float64, len(ls))
		for i, l := range ls {
			v[i] = f(l)
		}
		return medianOf(v)
	}
	errs := 0
	for _, l := range ls {
		errs += l.errors
	}
	return load{rps: pick(func(l load) float64 { return l.rps }), p50: pick(func(l load) float64 { return l.p50 }),
		p99: pick(func(l load) float64 { return l.p99 }), errors: errs,
		cpuPerReq:  time.Duration(pick(func(l load) float64 { return float64(l.cpuPerReq) })),
		instPerReq: time.Duration(pick(func(l load) float64 { return float64(l.instPerReq) })),
		machPerReq: time.Duration(pick(func(l load) float64 { return float64(l.machPerReq) }))}
}

// medianOf is the median of v (the mean of the middle two for an even
// count), which it sorts.
func medianOf(v []float64) float64 {
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func minD(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxD(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func ms(v float64) string { return fmt.Sprintf("%.2f ms", v) }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// procCPU is a process's user+system CPU time from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	return statCPU(statFields(pid))
}

// statFields are the fields of /proc/<pid>/stat after the command name
// (which may hold spaces), or nil.
func statFields(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
}

// statCPU is the user and system time in stat fields f.
func statCPU(f []string) time.Duration {
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// groupCPU is the CPU time used so far by the processes of process
// group pgid (nginx's master and workers).
func groupCPU(pgid int) time.Duration {
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); len(f) > 2 {
			if g, _ := strconv.Atoi(f[2]); g == pgid {
				total += statCPU(f)
			}
		}
	}
	return total
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(data), "processor\t:"))
}
