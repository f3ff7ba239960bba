package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestStarterLifecycle walks the README's tour: init, deploy, use the
// app through the gateway, status, logs, restart with adoption, a failed
// build that leaves the stage serving, redeploy, rm.
func TestStarterLifecycle(t *testing.T) {
	s := startServer(t)
	work := t.TempDir()
	s.mustRun(work, "init", "hello", "--template", "go-crud")
	app := filepath.Join(work, "hello")
	for _, f := range []string{"main.go", "Dockerfile", "build.yml", "slipway.yml", ".dockerignore"} {
		if _, err := os.Stat(filepath.Join(app, f)); err != nil {
			t.Fatalf("init did not write %s: %v", f, err)
		}
	}
	if r := s.run(work, "init", "hello"); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("init over an existing dir: exit %d, %q", r.code, r.stderr)
	}

	r := s.mustRun(app, "deploy")
	url := strings.TrimSpace(r.stdout)
	port := s.gateway[strings.LastIndex(s.gateway, ":")+1:]
	if url != "http://dev.hello.localhost:"+port+"/" {
		t.Fatalf("deploy printed %q", url)
	}
	for _, want := range []string{"s] build b1", "s] build.yml phase build", "Step 1/", "push ", "release r1 to stage dev"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("deploy progress lacks %q:\n%s", want, r.stderr)
		}
	}
	host := "dev.hello.localhost"
	t.Run("crud through the gateway", func(t *testing.T) { exerciseStarter(t, s, host) })

	st := status(t, s, "hello")
	dev := st.Stages[0]
	if dev.Name != "dev" || dev.Status != "serving" || dev.Release == nil || dev.Release.ID != "r1" || len(dev.Instances) != 1 || !dev.Instances[0].Healthy {
		t.Fatalf("status after deploy: %+v", st)
	}
	if st.Stages[1].Name != "prod" || st.Stages[1].Status != "not-deployed" {
		t.Fatalf("prod stage: %+v", st.Stages[1])
	}
	first := dev.Instances[0].ID
	inspectSecurity(t, first, s.namespace)

	logs := s.mustRun(app, "logs", "hello", "--stage", "dev")
	if !strings.Contains(logs.stdout, `"path":"/ping"`) {
		t.Fatalf("logs lack the /ping request:\n%s", logs.stdout)
	}
	t.Run("logs -f follows new lines", func(t *testing.T) { followLogs(t, s, app, host) })
	t.Run("build log", func(t *testing.T) {
		out := s.mustRun(app, "logs", "hello", "--build", "1").stdout
		for _, want := range []string{"s] ==> build b1 of stack hello", "s] ==> build.yml phase build", "s] done: release r1"} {
			if !strings.Contains(out, want) {
				t.Fatalf("build log lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("build events replay as SSE", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.api+"/v1/stacks/hello/builds/b1/events", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Type") != "text/event-stream" || !strings.Contains(string(body), "event: step\ndata: {") ||
			!strings.Contains(string(body), "event: done\ndata: {") {
			t.Fatalf("SSE replay: %s\n%s", resp.Header.Get("Content-Type"), body)
		}
	})
	table := s.mustRun(app, "status")
	if !strings.Contains(table.stdout, "hello") || !strings.Contains(table.stdout, "serving") {
		t.Fatalf("status table:\n%s", table.stdout)
	}

	t.Run("restart adopts the instance", func(t *testing.T) {
		s.stop()
		if out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", first).Output(); strings.TrimSpace(string(out)) != "true" {
			t.Fatalf("instance stopped with the server: %q", out)
		}
		s.start()
		eventually(t, 20*time.Second, "adopted instance serves", func() error {
			code, body, _ := s.gw("GET", host, "/ping", "")
			if code != 200 || body != "pong" {
				return fmt.Errorf("GET /ping: %d %q", code, body)
			}
			return nil
		})
		st := status(t, s, "hello")
		if in := st.Stages[0].Instances; len(in) != 1 || in[0].ID != first {
			t.Fatalf("instance not adopted: want %s, have %+v", first, in)
		}
	})

	t.Run("failed build leaves the stage serving", func(t *testing.T) {
		df := filepath.Join(app, "Dockerfile")
		orig, _ := os.ReadFile(df)
		os.WriteFile(df, append(orig, []byte("COPY missing-file /x\n")...), 0o644)
		defer os.WriteFile(df, orig, 0o644)
		r := s.run(app, "deploy")
		if r.code == 0 {
			t.Fatalf("deploy of a broken Dockerfile succeeded:\n%s", r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		errLine := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "error: ") {
				errLine = l
			}
		}
		if !strings.Contains(errLine, "image build failed") || !strings.Contains(errLine, "missing-file") {
			t.Fatalf("error line %q; stderr:\n%s", errLine, r.stderr)
		}
		if code, body, _ := s.gw("GET", host, "/ping", ""); code != 200 || body != "pong" {
			t.Fatalf("stage stopped serving after a failed build: %d %q", code, body)
		}
		if st := status(t, s, "hello"); st.Stages[0].Instances[0].ID != first || st.LastBuild.Status != core.BuildFailed {
			t.Fatalf("failed build disturbed the stage: %+v", st)
		}
	})

	t.Run("redeploy replaces the instance without downtime", func(t *testing.T) {
		stop := make(chan struct{})
		failures := make(chan string, 1000)
		done := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				code, body, _ := s.gw("GET", host, "/ping", "")
				n++
				if code != 200 || body != "pong" {
					select {
					case failures <- fmt.Sprintf("%d %q", code, body):
					default:
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		r := s.mustRun(app, "deploy", "-q")
		time.Sleep(500 * time.Millisecond)
		close(stop)
		n := <-done
		close(failures)
		for f := range failures {
			t.Errorf("request failed during the rollout: %s", f)
		}
		if n < 10 {
			t.Fatalf("only %d requests sent during the rollout", n)
		}
		if !strings.Contains(r.stderr, "release r2") {
			t.Fatalf("second deploy: %s", r.stderr)
		}
		eventually(t, 30*time.Second, "old instance retired", func() error {
			st := status(t, s, "hello")
			in := st.Stages[0].Instances
			if len(in) != 1 || in[0].ID == first || in[0].Release != "r2" {
				return fmt.Errorf("instances %+v", in)
			}
			if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "id="+first).Output(); len(strings.TrimSpace(string(out))) > 0 {
				return fmt.Errorf("old container %s still exists", first)
			}
			return nil
		})
		var rels []core.Release
		json.Unmarshal([]byte(s.mustRun(app, "releases", "hello", "-o", "json").stdout), &rels)
		if len(rels) != 2 || rels[0].Status != core.ReleaseActive || rels[1].Status != core.ReleaseSuperseded {
			t.Fatalf("release history: %+v", rels)
		}
	})

	t.Run("rm removes everything", func(t *testing.T) {
		s.mustRun(app, "rm", "hello")
		if r := s.run(app, "status", "hello"); r.code == 0 || !strings.Contains(r.stderr, `unknown stack "hello"`) {
			t.Fatalf("status after rm: exit %d %q", r.code, r.stderr)
		}
		if code, body, _ := s.gw("GET", host, "/ping", ""); code != 404 || !strings.Contains(body, "not_found") {
			t.Fatalf("gateway after rm: %d %q", code, body)
		}
		label := "label=io.slipway.namespace=" + s.namespace
		if out, _ := exec.Command("docker", "ps", "-aq", "--filter", label).Output(); len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("containers left after rm: %s", out)
		}
		if out, _ := exec.Command("docker", "network", "ls", "-q", "--filter", label).Output(); len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("networks left after rm: %s", out)
		}
		if out, _ := exec.Command("docker", "images", "-q", s.registry+"/hello").Output(); len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("local images left after rm: %s", out)
		}
		if _, err := os.Stat(filepath.Join(s.dataDir, "artifacts", "hello")); !os.IsNotExist(err) {
			t.Fatalf("artifacts dir left after rm: %v", err)
		}
		if r := s.run(app, "rm", "hello"); r.code == 0 || !strings.Contains(r.stderr, "unknown stack") {
			t.Fatalf("second rm: exit %d %q", r.code, r.stderr)
		}
	})
}

// exerciseStarter drives the starter's whole API through the gateway.
func exerciseStarter(t *testing.T, s *server, host string) {
	check := func(method, path, body string, wantCode int, wantBody string) string {
		t.Helper()
		code, got, hdr := s.gw(method, host, path, body)
		if code != wantCode || !strings.Contains(got, wantBody) {
			t.Fatalf("%s %s: %d %q, want %d containing %q", method, path, code, got, wantCode, wantBody)
		}
		if hdr.Get("X-Request-Id") == "" {
			t.Fatalf("%s %s: no X-Request-Id", method, path)
		}
		return got
	}
	check("GET", "/ping", "", 200, "pong")
	check("GET", "/", "", 200, "hello")
	check("GET", "/healthy", "", 200, "")
	check("GET", "/env-var", "", 200, "hello from dev")
	created := check("POST", "/local-item", `{"title":"first","content":"one"}`, 201, `"title":"first"`)
	var item struct{ ID, Title, Content string }
	if err := json.Unmarshal([]byte(created), &item); err != nil || item.ID == "" {
		t.Fatalf("created item %q: %v", created, err)
	}
	check("GET", "/local-item", "", 200, item.ID)
	check("GET", "/local-item/"+item.ID, "", 200, `"content":"one"`)
	check("PUT", "/local-item/"+item.ID, `{"title":"first","content":"two"}`, 200, `"content":"two"`)
	check("GET", "/local-item/"+item.ID, "", 200, `"content":"two"`)
	check("POST", "/local-item", `{"title":`, 400, "error")
	check("GET", "/local-item/nope", "", 404, "error")
	code, _, _ := s.gw("DELETE", host, "/local-item/"+item.ID, "")
	if code != 204 && code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	check("GET", "/local-item/"+item.ID, "", 404, "error")
}

func status(t *testing.T, s *server, stack string) core.StackStatus {
	t.Helper()
	r := s.mustRun(s.dataDir, "status", stack, "-o", "json")
	var st core.StackStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, r.stdout)
	}
	return st
}

// inspectSecurity checks the instance runs confined: no capabilities,
// no-new-privileges, limits set, no published ports, on its own network.
func inspectSecurity(t *testing.T, id, namespace string) {
	t.Helper()
	out, err := exec.Command("docker", "inspect", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	var info []struct {
		HostConfig struct {
			CapDrop      []string
			SecurityOpt  []string
			Memory       int64
			NanoCpus     int64
			PidsLimit    *int64
			PortBindings map[string]any
			Privileged   bool
		}
		Config          struct{ Labels map[string]string }
		NetworkSettings struct{ Networks map[string]any }
	}
	if err := json.Unmarshal(out, &info); err != nil || len(info) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	hc := info[0].HostConfig
	if strings.Join(hc.CapDrop, ",") != "ALL" || !strings.Contains(strings.Join(hc.SecurityOpt, ","), "no-new-privileges") ||
		hc.Memory == 0 || hc.NanoCpus == 0 || hc.PidsLimit == nil || *hc.PidsLimit == 0 || len(hc.PortBindings) > 0 || hc.Privileged {
		t.Fatalf("instance not confined: %+v", hc)
	}
	l := info[0].Config.Labels
	if l["io.slipway.stack"] != "hello" || l["io.slipway.stage"] != "dev" || l["io.slipway.release"] == "" {
		t.Fatalf("labels: %v", l)
	}
	if _, ok := info[0].NetworkSettings.Networks["slipway-"+namespace+"-hello"]; !ok || len(info[0].NetworkSettings.Networks) != 1 {
		t.Fatalf("networks: %v", info[0].NetworkSettings.Networks)
	}
}

// followLogs runs `slipway logs -f` and checks a request made afterwards
// shows up in its output.
func followLogs(t *testing.T, s *server, dir, host string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "logs", "hello", "-f", "--tail", "1")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "SLIPWAY_DATA_DIR="+s.dataDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	marker := "/follow-" + randHex(4)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(300 * time.Millisecond) // let the follower attach
	s.gw("GET", host, marker, "")
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended before showing %s", marker)
			}
			if strings.Contains(l, marker) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("logs -f did not show %s within 30s", marker)
		}
	}
}

// active leaves out instances being retired.
func active(in []core.Instance) []core.Instance {
	var out []core.Instance
	for _, i := range in {
		if i.State != "stopping" {
			out = append(out, i)
		}
	}
	return out
}
