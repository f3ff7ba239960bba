package integration

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvAndSecrets: variables change a stage through a new release
// without a build; secrets reach the app but never the API, the CLI or
// the data dir in plain text; build variables reach build.yml.
func TestEnvAndSecrets(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "envs", "stages:\n  - name: dev\n    env: {VERSION: v1}\n")
	s.mustRun(app, "deploy", "-q")
	get := func(path string) string {
		_, body, _ := s.gw("GET", "dev.envs.localhost", path, "")
		return body
	}
	builds := func() int { return strings.Count(s.mustRun(app, "builds", "envs").stdout, "\n") }
	before := builds()

	r := s.mustRun(app, "env", "set", "envs", "dev", "VERSION=v2")
	if !strings.Contains(r.stdout, "serves stage dev") {
		t.Fatalf("env set: %q", r.stdout)
	}
	if v := get("/version"); v != "v2" {
		t.Fatalf("after env set: %q", v)
	}
	const secret = "hunter2-" + "s3cr3t"
	s.mustRun(app, "env", "set", "envs", "dev", "DB_PASSWORD="+secret, "--secret")
	if v := get("/env?name=DB_PASSWORD"); v != secret {
		t.Fatalf("the app does not see the secret: %q", v)
	}
	if builds() != before {
		t.Fatal("env set ran a build")
	}
	list := s.mustRun(app, "env", "list", "envs", "dev").stdout
	if !strings.Contains(list, "DB_PASSWORD  ****") || !strings.Contains(list, "VERSION      v2") {
		t.Fatalf("env list:\n%s", list)
	}
	for _, args := range [][]string{{"env", "list", "envs", "dev", "-o", "json"}, {"releases", "envs", "-o", "json"}, {"status", "envs", "-o", "json"}} {
		if out := s.mustRun(app, args...).stdout; strings.Contains(out, secret) {
			t.Fatalf("slipway %v shows the secret", args)
		}
	}
	filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the secret in plain text", path)
			}
		}
		return nil
	})
	if strings.Contains(s.logs.String(), secret) {
		t.Error("the server log holds the secret")
	}

	s.mustRun(app, "env", "unset", "envs", "dev", "VERSION")
	if v := get("/version"); v != "v1" {
		t.Fatalf("after unset, slipway.yml's value should be back: %q", v)
	}
	s.mustRun(app, "rollback", "envs", "dev")
	eventually(t, 10*time.Second, "rollback restores the env", func() error {
		if v := get("/version"); v != "v2" {
			return fmt.Errorf("version %q", v)
		}
		return nil
	})
	if line := errorLine(t, s.run(app, "env", "set", "envs", "dev", "1BAD=x")); !strings.Contains(line, "invalid variable name") {
		t.Fatalf("bad name: %q", line)
	}

	// Build variables reach build.yml.
	s.mustRun(app, "env", "set", "envs", "--build", "GREETING=hello-build")
	bs, _ := os.ReadFile(filepath.Join(app, "build.yml"))
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(strings.Replace(string(bs), "commands:\n", "commands:\n      - echo \"greeting=$GREETING\"\n", 1)), 0o644)
	if r := s.mustRun(app, "deploy"); !strings.Contains(r.stderr, "greeting=hello-build") {
		t.Fatalf("build variable not seen by build.yml:\n%s", r.stderr)
	}

	// DOCKERFILE_PATH picks another Dockerfile (monorepos).
	df, _ := os.ReadFile(filepath.Join(app, "Dockerfile"))
	os.MkdirAll(filepath.Join(app, "deploy"), 0o755)
	os.WriteFile(filepath.Join(app, "deploy", "Dockerfile.alt"), append(df, []byte("LABEL picked=alt\n")...), 0o644)
	s.mustRun(app, "env", "set", "envs", "--build", "DOCKERFILE_PATH=deploy/Dockerfile.alt")
	if r := s.mustRun(app, "deploy"); !strings.Contains(r.stderr, "LABEL picked=alt") {
		t.Fatalf("DOCKERFILE_PATH not used:\n%s", r.stderr)
	}
}
