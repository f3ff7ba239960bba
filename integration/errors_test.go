package integration

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/client"
	"github.com/slipwayhq/slipway/internal/core"
)

// lastLine is the "error: ..." line of a failed command.
func errorLine(t *testing.T, r result) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("command succeeded; stdout %q stderr %q", r.stdout, r.stderr)
	}
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "error: ") {
			return l
		}
	}
	t.Fatalf("no error line in stderr:\n%s", r.stderr)
	return ""
}

// TestUserErrors checks the errors a user can hit each give one clear
// line and a non-zero exit, and that a deploy whose instance never turns
// healthy leaves the previous release serving.
func TestUserErrors(t *testing.T) {
	s := startServer(t)
	work := t.TempDir()

	t.Run("bad manifest names file, line and column", func(t *testing.T) {
		dir := filepath.Join(work, "bad")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte("name: bad\narchitecture: lambda\n"), 0o644)
		line := errorLine(t, s.run(dir, "deploy"))
		if !strings.Contains(line, "slipway.yml:2:") || !strings.Contains(line, "lambda") || !strings.Contains(line, "container") {
			t.Fatalf("manifest error: %q", line)
		}
		os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte("name: bad\nprot: 80\n"), 0o644)
		if line := errorLine(t, s.run(dir, "deploy")); !strings.Contains(line, "slipway.yml:2:1") || !strings.Contains(line, `"port"`) {
			t.Fatalf("unknown key error: %q", line)
		}
		os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte("name: bad\narchitecture: serverless\nserverless:\n  memory: 64\n"), 0o644)
		if line := errorLine(t, s.run(dir, "deploy")); !strings.Contains(line, "slipway.yml:4:") || !strings.Contains(line, "128-10240") {
			t.Fatalf("serverless error: %q", line)
		}
	})

	t.Run("no slipway.yml", func(t *testing.T) {
		if line := errorLine(t, s.run(work, "deploy")); !strings.Contains(line, "no slipway.yml") {
			t.Fatalf("%q", line)
		}
	})

	t.Run("unknown stack", func(t *testing.T) {
		for _, args := range [][]string{{"status", "nope"}, {"logs", "nope"}, {"rm", "nope"}, {"builds", "nope"}} {
			if line := errorLine(t, s.run(work, args...)); !strings.Contains(line, `unknown stack "nope"`) {
				t.Fatalf("%v: %q", args, line)
			}
		}
	})

	t.Run("bad token", func(t *testing.T) {
		r := runCLI(t, work, []string{"SLIPWAY_SERVER=" + s.api, "SLIPWAY_TOKEN=wrong"}, "status")
		if line := errorLine(t, r); !strings.Contains(line, "rejected the token") {
			t.Fatalf("%q", line)
		}
		req, _ := http.NewRequest("GET", s.api+"/v1/stacks", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("API without token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("server not running", func(t *testing.T) {
		r := runCLI(t, work, []string{"SLIPWAY_SERVER=http://127.0.0.1:1", "SLIPWAY_TOKEN=x"}, "status")
		if line := errorLine(t, r); !strings.Contains(line, "cannot reach the Slipway server at http://127.0.0.1:1") {
			t.Fatalf("%q", line)
		}
		r = runCLI(t, work, []string{"SLIPWAY_DATA_DIR=" + filepath.Join(work, "nothing")}, "status")
		if line := errorLine(t, r); !strings.Contains(line, "credentials") || !strings.Contains(line, "slipway server") {
			t.Fatalf("%q", line)
		}
	})

	t.Run("docker not reachable", func(t *testing.T) {
		sock := "unix://" + filepath.Join(work, "no-docker.sock")
		r := runCLI(t, work, []string{"DOCKER_HOST=" + sock}, "server", "--data-dir", filepath.Join(work, "d"),
			"--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0")
		if line := errorLine(t, r); !strings.Contains(line, sock) || !strings.Contains(line, "DOCKER_HOST") {
			t.Fatalf("%q", line)
		}
	})

	t.Run("name clash and bad names through the API", func(t *testing.T) {
		c := client.New(client.Config{Server: s.api, Token: s.token})
		ctx := context.Background()
		if _, err := c.CreateStack(ctx, "clash"); err != nil {
			t.Fatal(err)
		}
		_, err := c.CreateStack(ctx, "clash")
		if ce, ok := err.(*client.Error); !ok || ce.Status != 409 || ce.Code != core.CodeConflict || !strings.Contains(ce.Message, `"clash" already exists`) {
			t.Fatalf("second create: %#v", err)
		}
		_, err = c.CreateStack(ctx, "Bad_Name")
		if ce, ok := err.(*client.Error); !ok || ce.Status != 400 || !strings.Contains(ce.Message, "lower-case") {
			t.Fatalf("bad name: %#v", err)
		}
		if r := s.run(work, "init", "Bad_Name"); !strings.Contains(errorLine(t, r), "invalid stack name") {
			t.Fatalf("init bad name: %q", r.stderr)
		}
		s.mustRun(work, "rm", "clash")
	})

	t.Run("instance that never turns healthy", func(t *testing.T) {
		s.mustRun(work, "init", "sick")
		app := filepath.Join(work, "sick")
		s.mustRun(app, "deploy", "-q")
		// The app answers 404 on /missing; probe it with a short timeout.
		manifest := filepath.Join(app, "slipway.yml")
		orig, _ := os.ReadFile(manifest)
		bad := strings.Replace(string(orig), "healthcheck: /healthy", "healthcheck:\n  path: /missing\n  start_timeout: 3s", 1)
		if bad == string(orig) {
			t.Fatalf("could not rewrite slipway.yml:\n%s", orig)
		}
		os.WriteFile(manifest, []byte(bad), 0o644)
		start := time.Now()
		r := s.run(app, "deploy", "-q")
		line := errorLine(t, r)
		for _, want := range []string{"never answered its health check", "GET /missing", "port 8000", "3s", "404"} {
			if !strings.Contains(line, want) {
				t.Fatalf("error line lacks %q: %q", want, line)
			}
		}
		if !strings.Contains(r.stderr, "  | ") || !strings.Contains(r.stderr, `"path":"/missing"`) {
			t.Fatalf("no instance log lines shown:\n%s", r.stderr)
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("start timeout not honoured: took %s", time.Since(start))
		}
		if code, body, _ := s.gw("GET", "dev.sick.localhost", "/ping", ""); code != 200 || body != "pong" {
			t.Fatalf("previous release stopped serving: %d %q", code, body)
		}
		st := status(t, s, "sick")
		if st.Stages[0].Release.ID != "r1" || len(active(st.Stages[0].Instances)) != 1 {
			t.Fatalf("failed release disturbed the stage: %+v", st.Stages[0])
		}
		var rels []core.Release
		if out := s.mustRun(app, "releases", "sick", "-o", "json").stdout; !strings.Contains(out, `"failed"`) {
			t.Fatalf("failed release not recorded: %s %v", out, rels)
		}
	})

	t.Run("instance that crashes on start fails fast", func(t *testing.T) {
		app := filepath.Join(work, "sick")
		mainGo := filepath.Join(app, "main.go")
		orig, _ := os.ReadFile(mainGo)
		defer os.WriteFile(mainGo, orig, 0o644)
		os.WriteFile(mainGo, []byte("package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() {\n\tfmt.Println(\"cannot open database: no such host\")\n\tos.Exit(3)\n}\n"), 0o644)
		os.Rename(filepath.Join(app, "main_test.go"), filepath.Join(app, "main_test.go.off"))
		defer os.Rename(filepath.Join(app, "main_test.go.off"), filepath.Join(app, "main_test.go"))
		start := time.Now()
		r := s.run(app, "deploy", "-q")
		line := errorLine(t, r)
		if !strings.Contains(line, "exited with code 3 before answering its health check") {
			t.Fatalf("error line %q", line)
		}
		if !strings.Contains(r.stderr, "  | cannot open database: no such host") {
			t.Fatalf("instance log lines not shown:\n%s", r.stderr)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("a crashing instance took %s to be reported", d)
		}
		if code, body, _ := s.gw("GET", "dev.sick.localhost", "/ping", ""); code != 200 || body != "pong" {
			t.Fatalf("previous release stopped serving: %d %q", code, body)
		}
	})

	t.Run("logs of an unknown stage", func(t *testing.T) {
		line := errorLine(t, s.run(work, "logs", "sick", "--stage", "nope"))
		if !strings.Contains(line, `stack "sick" has no stage "nope"; stages: dev, prod`) {
			t.Fatalf("%q", line)
		}
		line = errorLine(t, s.run(work, "logs", "sick", "--stage", "prod"))
		if !strings.Contains(line, "stage prod of stack sick has no instances") {
			t.Fatalf("%q", line)
		}
	})

	t.Run("failing build.yml names the phase and command", func(t *testing.T) {
		app := filepath.Join(work, "sick")
		bs := filepath.Join(app, "build.yml")
		orig, _ := os.ReadFile(bs)
		defer os.WriteFile(bs, orig, 0o644)
		os.WriteFile(bs, []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo compiling\n      - echo 'no compiler here' >&2; exit 3\n"), 0o644)
		r := s.run(app, "deploy", "-q")
		line := errorLine(t, r)
		if !strings.Contains(line, "build.yml phase build failed: exit status 3") {
			t.Fatalf("error line %q", line)
		}
		if !strings.Contains(r.stderr, "  | no compiler here") || !strings.Contains(r.stderr, "  | + echo 'no compiler here'") {
			t.Fatalf("last log lines not shown:\n%s", r.stderr)
		}
		if code, body, _ := s.gw("GET", "dev.sick.localhost", "/ping", ""); code != 200 || body != "pong" {
			t.Fatalf("stage stopped serving after a failed build.yml: %d %q", code, body)
		}
	})

	t.Run("docker CLI pushes to the embedded registry", func(t *testing.T) {
		cfg := t.TempDir()
		docker := func(stdin string, args ...string) (string, error) {
			cmd := exec.Command("docker", args...)
			cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := docker("wrong", "login", s.registry, "-u", "slipway", "--password-stdin"); err == nil {
			t.Fatalf("login with a wrong token succeeded: %s", out)
		}
		if out, err := docker(s.token, "login", s.registry, "-u", "slipway", "--password-stdin"); err != nil {
			t.Fatalf("docker login: %v\n%s", err, out)
		}
		ref := s.registry + "/pushed:v1"
		if out, err := docker("", "tag", s.registry+"/sick:latest", ref); err != nil {
			t.Fatalf("docker tag: %v\n%s", err, out)
		}
		out, err := docker("", "push", ref)
		if err != nil || !strings.Contains(out, "digest: sha256:") {
			t.Fatalf("docker push: %v\n%s", err, out)
		}
		docker("", "rmi", ref)
		if out, err := docker("", "pull", ref); err != nil {
			t.Fatalf("docker pull back: %v\n%s", err, out)
		}
		docker("", "rmi", ref)
	})
}
