package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// builds lists a stack's builds through the CLI, newest first.
func builds(t *testing.T, s *server, stack string) []core.Build {
	t.Helper()
	var out []core.Build
	if err := json.Unmarshal([]byte(s.mustRun(t.TempDir(), "builds", stack, "-o", "json").stdout), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBuildTimeout: a build past --build-timeout is killed and marked
// timed out, and the stage keeps serving the release it had.
func TestBuildTimeout(t *testing.T) {
	s := startServer(t, "--build-timeout", "8s")
	app := fixtureApp(t, "slow", "")
	goBuild(t, app) // so the bound is on the sleep alone
	os.WriteFile(filepath.Join(app, "build.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo prebuilt\n"), 0o644)
	s.mustRun(app, "deploy", "-q") // b1 serves
	os.WriteFile(filepath.Join(app, "build.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 60\n"), 0o644)
	start := time.Now()
	line := errorLine(t, s.run(app, "deploy", "-q"))
	if !strings.Contains(line, "timed out after 8s") {
		t.Fatalf("timed-out deploy: %q", line)
	}
	if el := time.Since(start); el > 40*time.Second {
		t.Errorf("the timed-out build ended after %s", el)
	}
	if b := builds(t, s, "slow")[0]; b.ID != "b2" || b.Status != core.BuildTimedOut {
		t.Fatalf("newest build: %+v", b)
	}
	if st := status(t, s, "slow"); st.Stages[0].Release.Build != "b1" {
		t.Fatalf("dev moved to %s after a timed-out build", st.Stages[0].Release.Build)
	}
	if code, body, _ := s.gw("GET", "dev.slow.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("dev after the timed-out build: %d %q", code, body)
	}
}

// TestInterruptedBuild: a server stopped mid-build marks the build
// interrupted on its way down, and `builds retry` runs the commit again.
func TestInterruptedBuild(t *testing.T) {
	s := startServer(t)
	work, home := t.TempDir(), t.TempDir()
	app := fixtureApp(t, "intr", "")
	// The first run sleeps; a retry, finding the mark, does not.
	mark := filepath.Join(t.TempDir(), "ran")
	bs, _ := os.ReadFile(filepath.Join(app, "build.yml"))
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(strings.Replace(string(bs), "commands:\n",
		fmt.Sprintf("commands:\n      - if [ ! -e %[1]s ]; then touch %[1]s; echo sleeping; sleep 60; fi\n", mark), 1)), 0o644)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "first"}} {
		if out, err := git(t, app, home, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	s.mustRun(work, "stack", "create", "intr")
	remote := strings.Replace(s.api, "http://", "http://slipway:"+s.token+"@", 1) + "/git/intr.git"
	if out, err := git(t, app, home, "push", "-q", remote, "main"); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
	eventually(t, 60*time.Second, "the build sleeping", func() error {
		if _, err := os.Stat(mark); err != nil {
			return err
		}
		return nil
	})
	s.stop()
	s.start()
	b := builds(t, s, "intr")[0]
	if b.Status != core.BuildInterrupted || !strings.Contains(b.Error, "builds retry") {
		t.Fatalf("build after the restart: %+v", b)
	}
	r := s.mustRun(work, "builds", "retry", "intr", b.ID)
	if !strings.Contains(r.stdout, "Retried "+b.ID+" as b") {
		t.Fatalf("retry: %q", r.stdout)
	}
	eventually(t, 90*time.Second, "the retried build serving", func() error {
		code, body, _ := s.gw("GET", "dev.intr.localhost", "/ping", "")
		if code != 200 || body != "pong" {
			return fmt.Errorf("%d %q", code, body)
		}
		return nil
	})
}

// TestBuildImage: with build.image, build.yml runs inside that image
// (here a FROM-scratch image with busybox and the docker CLI, standing in
// for docker:cli) with the Docker socket mounted, so a TinyStacks
// build.yml's docker build and push work there; its containers go away.
func TestBuildImage(t *testing.T) {
	builder := builderImage(t)
	s := startServer(t)
	app := fixtureApp(t, "boxed", "build:\n  image: "+builder+"\n")
	// No Go toolchain in the builder: the binary comes built, as a
	// CodeBuild user's might from an earlier phase.
	goBuild(t, app)
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(`version: 0.2
env:
  variables:
    DOCKER_BUILDKIT: "0"
phases:
  build:
    commands:
      - cat /etc/slipway-builder
      - echo "source in $(pwd), artifacts in $S3_BUCKET"
      - docker build -q -t $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION .
  post_build:
    commands:
      - docker push -q $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION
`), 0o644)
	r := s.mustRun(app, "deploy")
	for _, want := range []string{"running build commands in " + builder, "inside the slipway test builder", "build.yml pushed " + s.registry + "/boxed:b1"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("deploy output lacks %q:\n%s", want, r.stderr)
		}
	}
	if code, body, _ := s.gw("GET", "dev.boxed.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("gateway: %d %q", code, body)
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.slipway.task=build", "--filter", "label=io.slipway.stack=boxed").Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("build containers left: %s", out)
	}
	// A failing command in the image fails the build with its exit code
	// and last lines; dev keeps serving b1.
	os.WriteFile(filepath.Join(app, "build.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo about to fail\n      - exit 7\n"), 0o644)
	r = s.run(app, "deploy")
	if line := errorLine(t, r); !strings.Contains(line, "exit status 7") || !strings.Contains(r.stderr, "about to fail") {
		t.Fatalf("failing build in the image: %q\n%s", line, r.stderr)
	}
	if st := status(t, s, "boxed"); st.Stages[0].Release.Build != "b1" {
		t.Fatalf("dev moved to %s", st.Stages[0].Release.Build)
	}
}

// goBuild builds the fixture's binary into app on the host.
func goBuild(t *testing.T, app string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", "app", ".")
	cmd.Dir, cmd.Env = app, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
}

// builderImage builds a FROM-scratch image with Debian's static busybox
// and the host's docker CLI (with the C library it links), and removes
// it when the test ends.
func builderImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(src, name string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("the builder image needs %s: %v", src, err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o755)
	}
	copyFile("/bin/busybox", "busybox")
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(docker, "docker")
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY docker /usr/bin/docker\n"
	ldd, _ := exec.Command("ldd", docker).Output()
	for i, m := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllStringSubmatch(string(ldd), -1) {
		name := fmt.Sprintf("lib%d", i)
		copyFile(m[1], name)
		dockerfile += fmt.Sprintf("COPY %s %s\n", name, m[1])
	}
	os.WriteFile(filepath.Join(dir, "marker"), []byte("inside the slipway test builder\n"), 0o644)
	dockerfile += "COPY marker /etc/slipway-builder\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644)
	tag := "slipway-it-builder:" + randHex(4)
	build := exec.Command("docker", "build", "-q", "-t", tag, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build the builder: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}
