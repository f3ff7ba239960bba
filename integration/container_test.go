package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// serving returns a stage's active instances once it serves n healthy
// ones of one release.
func waitServing(t *testing.T, s *server, stack string, n int, timeout time.Duration) []core.Instance {
	t.Helper()
	var last []core.Instance
	eventually(t, timeout, fmt.Sprintf("%s serves %d healthy instances", stack, n), func() error {
		st := status(t, s, stack)
		last = active(st.Stages[0].Instances)
		healthy := 0
		for _, in := range last {
			if in.Healthy {
				healthy++
			}
		}
		if healthy != n || len(last) != n {
			return fmt.Errorf("%d healthy of %d active: %+v", healthy, len(last), last)
		}
		return nil
	})
	return last
}

// TestRolloutsUnderLoad: five rollouts in a row of a 2-instance stage
// while at least 100 req/s go through the gateway: no request fails.
func TestRolloutsUnderLoad(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "roll", "stages:\n  - name: dev\n    scale: {min: 2, max: 2, drain: 1s, health: {interval: 1s, timeout: 500ms}}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "roll", 2, 30*time.Second)
	l := startLoad(s, "dev.roll.localhost", "/ping", 4, 10*time.Millisecond)
	start := time.Now()
	for i := 0; i < 5; i++ {
		s.mustRun(app, "deploy", "-q")
	}
	time.Sleep(1500 * time.Millisecond) // past the last drain
	sent, failures := l.end()
	rate := float64(sent) / time.Since(start).Seconds()
	for _, f := range failures {
		t.Errorf("failed request: %s", f)
	}
	if rate < 100 {
		t.Errorf("load was only %.0f req/s", rate)
	}
	t.Logf("5 rollouts: %d requests at %.0f req/s, %d failed", sent, rate, len(failures))
	in := waitServing(t, s, "roll", 2, 30*time.Second)
	if in[0].Release != "r6" || in[1].Release != "r6" {
		t.Fatalf("not serving the last release: %+v", in)
	}
}

// TestKilledInstanceUnderLoad: `docker kill` one of three instances
// under load; the gateway retries GETs elsewhere and the controller
// restores the count.
func TestKilledInstanceUnderLoad(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "kill", "stages:\n  - name: dev\n    scale: {min: 3, max: 3, health: {interval: 1s, timeout: 500ms}}\n")
	s.mustRun(app, "deploy", "-q")
	in := waitServing(t, s, "kill", 3, 30*time.Second)
	l := startLoad(s, "dev.kill.localhost", "/ping", 4, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if out, err := exec.Command("docker", "kill", in[1].ID).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	eventually(t, 30*time.Second, "killed instance back in service", func() error {
		st := status(t, s, "kill")
		healthy := 0
		for _, i := range active(st.Stages[0].Instances) {
			if i.Healthy {
				healthy++
			}
		}
		if healthy != 3 {
			return fmt.Errorf("%d healthy", healthy)
		}
		return nil
	})
	sent, failures := l.end()
	for _, f := range failures {
		t.Errorf("client-visible failure: %s", f)
	}
	t.Logf("kill: %d requests, %d failed", sent, len(failures))
	// The status may show the restarted instance healthy a moment before
	// the controller records its restart.
	eventually(t, 10*time.Second, "events that tell the crash and restart", func() error {
		evs := s.mustRun(app, "events", "kill", "dev").stdout
		if !strings.Contains(evs, "exited with code 137") || !strings.Contains(evs, "restarted") {
			return fmt.Errorf("events so far:\n%s", evs)
		}
		return nil
	})

	// A server restart adopts all three as they are: no instance is
	// started or stopped.
	before := ids(waitServing(t, s, "kill", 3, 30*time.Second))
	s.stop()
	s.start()
	time.Sleep(3 * time.Second) // a few passes
	if after := ids(waitServing(t, s, "kill", 3, 30*time.Second)); after != before {
		t.Fatalf("instances changed across a restart:\nbefore %s\nafter  %s", before, after)
	}
}

func ids(in []core.Instance) string {
	var out []string
	for _, i := range in {
		out = append(out, i.ID)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestAutoscaling: a CPU-burning load takes a stage from 1 to at least 2
// instances, and back to min once the load stops.
func TestAutoscaling(t *testing.T) {
	s := startServer(t, "--autoscale-interval", "1s", "--autoscale-window", "3s")
	app := fixtureApp(t, "burn", "stages:\n  - name: dev\n    scale: {min: 1, max: 3, cpu_target: 40, scale_out_cooldown: 2s, scale_in_cooldown: 3s, drain: 1s, health: {interval: 1s, timeout: 500ms}}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "burn", 1, 30*time.Second)
	l := startLoad(s, "dev.burn.localhost", "/burn?ms=20", 4, 0)
	eventually(t, 45*time.Second, "scaled out", func() error {
		if d := status(t, s, "burn").Stages[0].Desired; d < 2 {
			return fmt.Errorf("desired %d", d)
		}
		return nil
	})
	_, failures := l.end()
	for _, f := range failures {
		t.Errorf("failed request under load: %s", f)
	}
	eventually(t, 60*time.Second, "scaled back in to min", func() error {
		st := status(t, s, "burn").Stages[0]
		if st.Desired != 1 || len(active(st.Instances)) != 1 {
			return fmt.Errorf("desired %d, %d instances", st.Desired, len(active(st.Instances)))
		}
		return nil
	})
	evs := s.mustRun(app, "events", "burn", "dev").stdout
	if !strings.Contains(evs, "above the 40% target: 1 →") || !strings.Contains(evs, "below 80% of the 40% target") {
		t.Fatalf("scaling decisions not recorded with their inputs:\n%s", evs)
	}
	// The bounds change without a build.
	s.mustRun(app, "scale", "burn", "dev", "--min", "2")
	waitServing(t, s, "burn", 2, 30*time.Second)
	if r := s.run(app, "scale", "burn", "dev", "--min", "5"); !strings.Contains(errorLine(t, r), "min 5 is above max 3") {
		t.Fatalf("bad scale: %q", r.stderr)
	}
}

// TestCrashLoopOOMAndExec covers crashes of a serving release: restarts
// with backoff, CrashLooping with the exit code and logs, OOM reported as
// such; and exec with its exit code.
func TestCrashLoopOOMAndExec(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "crashy", "stages:\n  - name: dev\n    env: {VERSION: v1}\n    scale: {min: 1, max: 1, health: {interval: 1s, timeout: 500ms}}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "crashy", 1, 30*time.Second)

	r := s.run(app, "exec", "crashy", "dev", "--", "/app", "-dial", "127.0.0.1:8000")
	if r.code != 0 || !strings.Contains(r.stdout, "dial ok") {
		t.Fatalf("exec: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = s.run(app, "exec", "crashy", "dev", "--", "/app", "-dial", "127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.stdout, "dial failed") {
		t.Fatalf("exec of a failing command: exit %d, %q", r.code, r.stdout)
	}

	// A health path that starts answering 500: the instance leaves the
	// routes after `unhealthy` failures and is replaced.
	first := waitServing(t, s, "crashy", 1, 30*time.Second)[0].ID
	if code, body, _ := s.tryGW("GET", "dev.crashy.localhost", "/sick"); code != 200 {
		t.Fatalf("/sick: %d %q", code, body)
	}
	eventually(t, 30*time.Second, "sick instance replaced", func() error {
		in := waitServing(t, s, "crashy", 1, 30*time.Second)
		if in[0].ID == first {
			return fmt.Errorf("still the sick instance")
		}
		return nil
	})
	if evs := s.mustRun(app, "events", "crashy", "dev").stdout; !strings.Contains(evs, "failed its health checks") {
		t.Fatalf("replacement not recorded:\n%s", evs)
	}

	s.tryGW("GET", "dev.crashy.localhost", "/oom")
	eventually(t, 30*time.Second, "OOM reported", func() error {
		evs := s.mustRun(app, "events", "crashy", "dev").stdout
		if !strings.Contains(evs, "out of memory (OOM)") {
			return fmt.Errorf("events:\n%s", evs)
		}
		return nil
	})
	waitServing(t, s, "crashy", 1, 30*time.Second)

	s.tryGW("GET", "dev.crashy.localhost", "/crash?loop=1")
	eventually(t, 45*time.Second, "CrashLooping", func() error {
		st := status(t, s, "crashy").Stages[0]
		if st.Status != "CrashLooping" || st.Crash == nil || st.Crash.ExitCode != 3 {
			return fmt.Errorf("status %s, crash %+v", st.Status, st.Crash)
		}
		return nil
	})
	out := s.mustRun(app, "status", "crashy").stdout
	if !strings.Contains(out, "CrashLooping") || !strings.Contains(out, "exited with code 3") || !strings.Contains(out, "| crash flag set") {
		t.Fatalf("status does not explain the crash loop:\n%s", out)
	}
	// A new release replaces the crash-looping one.
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "crashy", 1, 30*time.Second)
}

// TestIsolation: a stack's instances cannot reach another stack's, and a
// stage with egress: false cannot reach the host beyond its network.
func TestIsolation(t *testing.T) {
	s := startServer(t)
	a := fixtureApp(t, "alpha", "stages:\n  - name: dev\n  - name: locked\n    network: {egress: false}\n")
	b := fixtureApp(t, "beta", "")
	s.mustRun(a, "deploy", "-q")
	s.mustRun(b, "deploy", "-q")
	betaIn := waitServing(t, s, "beta", 1, 30*time.Second)
	alphaIn := waitServing(t, s, "alpha", 1, 30*time.Second)

	dial := func(stage, addr string) result {
		return s.run(a, "exec", "alpha", stage, "--", "/app", "-dial", addr)
	}
	if r := dial("dev", alphaIn[0].Addr); r.code != 0 {
		t.Fatalf("an instance cannot reach its own stack: %q", r.stdout)
	}
	if r := dial("dev", betaIn[0].Addr); r.code == 0 {
		t.Fatalf("stack alpha reached stack beta's instance at %s", betaIn[0].Addr)
	}

	// The next hop beyond the host (its default gateway) answers, or
	// refuses, a normal stage; a stage without egress gets no route and
	// times out. (Docker's internal networks still reach the host's own
	// addresses; see the closing note of issue 3.)
	hop := defaultGateway(t) + ":53"
	if r := dial("dev", hop); r.code != 0 && !strings.Contains(r.stdout, "refused") {
		t.Fatalf("a stage with egress cannot reach %s: %q", hop, r.stdout)
	}
	// Deploy with the locked stage first: it gets the build directly.
	locked := fixtureApp(t, "alpha", "stages:\n  - name: locked\n    network: {egress: false}\n  - name: dev\n")
	s.mustRun(locked, "deploy", "-q")
	eventually(t, 30*time.Second, "locked stage serving", func() error {
		for _, st := range status(t, s, "alpha").Stages {
			if st.Name == "locked" && st.Status == "serving" {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
	if r := dial("locked", hop); r.code == 0 || strings.Contains(r.stdout, "refused") {
		t.Fatalf("a stage with egress: false reached %s: %q", hop, r.stdout)
	}
	var st core.StackStatus
	json.Unmarshal([]byte(s.mustRun(a, "status", "alpha", "-o", "json").stdout), &st)
	if code, body, _ := s.gw("GET", "locked.alpha.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("the gateway cannot reach a stage without egress: %d %q", code, body)
	}

	// A stage removed from slipway.yml loses its instances and route once
	// a release with the new spec is serving.
	only := fixtureApp(t, "alpha", "stages:\n  - name: dev\n")
	s.mustRun(only, "deploy", "-q")
	eventually(t, 30*time.Second, "removed stage's instances gone", func() error {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.slipway.namespace="+s.namespace,
			"--filter", "label=io.slipway.stage=locked").Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			return fmt.Errorf("still there: %s", out)
		}
		return nil
	})
	if code, _, _ := s.gw("GET", "locked.alpha.localhost", "/ping", ""); code != 404 {
		t.Fatalf("a removed stage still has a route: %d", code)
	}
}

// defaultGateway is the host's next hop, from /proc/net/route.
func defaultGateway(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		var b [4]byte
		for i := 0; i < 4; i++ {
			fmt.Sscanf(f[2][2*i:2*i+2], "%02X", &b[3-i])
		}
		return net.IP(b[:]).String()
	}
	t.Skip("no default route: cannot tell egress from no egress here")
	return ""
}

// TestAbortAndAttach: `slipway abort` stops a rollout that would never
// finish, keeping the old release; network.attach joins an existing
// Docker network.
func TestAbortAndAttach(t *testing.T) {
	s := startServer(t)
	net := "slipway-it-byo-" + randHex(3)
	if out, err := exec.Command("docker", "network", "create", net).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "network", "rm", net).Run() })
	app := fixtureApp(t, "byo", "stages:\n  - name: dev\n    network: {attach: "+net+"}\n")
	s.mustRun(app, "deploy", "-q")
	in := waitServing(t, s, "byo", 1, 30*time.Second)
	out, err := exec.Command("docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", in[0].ID).Output()
	if err != nil || !strings.Contains(string(out), `"`+net+`"`) {
		t.Fatalf("instance not attached to %s: %s %v", net, out, err)
	}

	// A release whose health path never answers, with a long start
	// timeout: only abort ends it early.
	app2 := fixtureApp(t, "byo", "healthcheck: {path: /nope, start_timeout: 5m}\nstages:\n  - name: dev\n    network: {attach: "+net+"}\n")
	done := make(chan result, 1)
	go func() { done <- s.run(app2, "deploy", "-q") }()
	eventually(t, 60*time.Second, "rollout in progress", func() error {
		if st := status(t, s, "byo").Stages[0]; st.RollingOut == "" {
			return fmt.Errorf("no rollout yet (%s)", st.Status)
		}
		return nil
	})
	r := s.mustRun(app, "abort", "byo", "dev")
	if !strings.Contains(r.stdout, "Aborted the rollout of r2") {
		t.Fatalf("abort: %q", r.stdout)
	}
	select {
	case r := <-done:
		if line := errorLine(t, r); !strings.Contains(line, "aborted by `slipway abort`") {
			t.Fatalf("deploy after abort: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("deploy did not end after abort")
	}
	if code, body, _ := s.gw("GET", "dev.byo.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("old release stopped serving after abort: %d %q", code, body)
	}
	if r := s.run(app, "abort", "byo", "dev"); !strings.Contains(errorLine(t, r), "no rollout in progress") {
		t.Fatalf("second abort: %q", r.stderr)
	}
	app3 := fixtureApp(t, "byo", "stages:\n  - name: dev\n    network: {attach: no-such-net-"+randHex(3)+"}\n")
	if line := errorLine(t, s.run(app3, "deploy", "-q")); !strings.Contains(line, "does not exist") {
		t.Fatalf("attach to a missing network: %q", line)
	}
}
