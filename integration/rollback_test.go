package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestRollback: a rollback restores an earlier release's image and env
// at once, as a new release, without a build.
func TestRollback(t *testing.T) {
	s := startServer(t)
	v1 := fixtureApp(t, "back", "stages:\n  - name: dev\n    env: {VERSION: v1}\n")
	s.mustRun(v1, "deploy", "-q")
	v2 := fixtureApp(t, "back", "stages:\n  - name: dev\n    env: {VERSION: v2}\n")
	s.mustRun(v2, "deploy", "-q")
	version := func() string {
		_, body, _ := s.gw("GET", "dev.back.localhost", "/version", "")
		return body
	}
	if v := version(); v != "v2" {
		t.Fatalf("after the second deploy: %q", v)
	}
	builds := len(strings.Split(strings.TrimSpace(s.mustRun(v1, "builds", "back").stdout), "\n"))
	r := s.mustRun(v1, "rollback", "back", "dev")
	if !strings.Contains(r.stdout, "release r3 (from r1) serves stage dev") {
		t.Fatalf("rollback: %q", r.stdout)
	}
	if v := version(); v != "v1" {
		t.Fatalf("after rollback the stage serves %q, want v1", v)
	}
	if after := len(strings.Split(strings.TrimSpace(s.mustRun(v1, "builds", "back").stdout), "\n")); after != builds {
		t.Fatalf("rollback ran a build: %d → %d lines", builds, after)
	}
	var rels []core.Release
	json.Unmarshal([]byte(s.mustRun(v1, "releases", "back", "-o", "json").stdout), &rels)
	if len(rels) != 3 || rels[0].Trigger != "rollback" || rels[0].From != "r1" || rels[0].Build != "b1" || rels[0].Status != core.ReleaseActive {
		t.Fatalf("release history after rollback: %+v", rels)
	}
	// The history says what ran: digest, and a config hash equal to the
	// restored release's (v1's env) and unlike v2's.
	if rels[0].Digest == "" || rels[0].Digest != rels[2].Digest || rels[0].ConfigHash != rels[2].ConfigHash || rels[0].ConfigHash == rels[1].ConfigHash {
		t.Fatalf("digests or config hashes: %+v", rels)
	}
	// The registry names what the stage serves: <stack>:dev.
	if out, err := exec.Command("docker", "image", "inspect", "-f", "{{index .RepoDigests 0}}", s.registry+"/back:dev").Output(); err != nil || !strings.Contains(string(out), rels[0].Digest) {
		t.Fatalf("back:dev is not the served image: %s %v", out, err)
	}
	// Forward again to r2 explicitly; a release that never served cannot be restored.
	s.mustRun(v1, "rollback", "back", "dev", "--to", "r2")
	eventually(t, 10*time.Second, "v2 again", func() error {
		if v := version(); v != "v2" {
			return fmt.Errorf("serving %q", v)
		}
		return nil
	})
	if line := errorLine(t, s.run(v1, "rollback", "back", "dev", "--to", "r9")); !strings.Contains(line, "no release r9") {
		t.Fatalf("rollback to a missing release: %q", line)
	}

	// A rollback does not wait for a build in progress.
	slow := fixtureApp(t, "back", "stages:\n  - name: dev\n    env: {VERSION: v3}\n")
	bs, _ := os.ReadFile(filepath.Join(slow, "build.yml"))
	os.WriteFile(filepath.Join(slow, "build.yml"), []byte(strings.Replace(string(bs), "commands:\n", "commands:\n      - sleep 15\n", 1)), 0o644)
	building := make(chan result, 1)
	go func() { building <- s.run(slow, "deploy", "-q") }()
	time.Sleep(2 * time.Second) // the build is in its sleep
	start := time.Now()
	s.mustRun(v1, "rollback", "back", "dev")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("rollback waited for the build: %s", d)
	}
	if r := <-building; r.code != 0 {
		t.Fatalf("the slow deploy failed: %s", r.stderr)
	}
}

// TestPromotionAndApproval: a deploy carries the build through the
// stages in order; a stage with approval holds it until `approve`.
func TestPromotionAndApproval(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "promo", "stages:\n  - name: dev\n    env: {VERSION: dev}\n  - name: staging\n    env: {VERSION: staging}\n  - name: prod\n    approval: true\n    env: {VERSION: prod}\n")
	r := s.mustRun(app, "deploy", "-q")
	if !strings.Contains(r.stderr, "promote build b1 to stage staging") || !strings.Contains(r.stderr, "stage prod awaits approval of build b1") {
		t.Fatalf("deploy progress:\n%s", r.stderr)
	}
	version := func(stage string) (int, string) {
		code, body, _ := s.gw("GET", stage+".promo.localhost", "/version", "")
		return code, body
	}
	if _, v := version("staging"); v != "staging" {
		t.Fatalf("staging serves %q", v)
	}
	if code, _ := version("prod"); code == 200 {
		t.Fatal("prod serves before approval")
	}
	st := status(t, s, "promo")
	if st.Stages[2].Awaiting != "b1" || st.Stages[2].Status != "not-deployed" {
		t.Fatalf("prod before approval: %+v", st.Stages[2])
	}
	if line := errorLine(t, s.run(app, "approve", "promo", "prod", "--build", "b9")); !strings.Contains(line, "now awaits build b1, not b9") {
		t.Fatalf("approve of a build that is not waiting: %q", line)
	}
	r = s.mustRun(app, "approve", "promo", "prod")
	if !strings.Contains(r.stdout, "of build b1 serves stage prod") {
		t.Fatalf("approve: %q", r.stdout)
	}
	if _, v := version("prod"); v != "prod" {
		t.Fatalf("prod serves %q after approval", v)
	}
	if line := errorLine(t, s.run(app, "approve", "promo", "prod")); !strings.Contains(line, "no build awaiting approval") {
		t.Fatalf("second approve: %q", line)
	}
	var rels []core.Release
	json.Unmarshal([]byte(s.mustRun(app, "releases", "promo", "--stage", "prod", "-o", "json").stdout), &rels)
	if len(rels) != 1 || rels[0].Trigger != "approve" || rels[0].Build != "b1" {
		t.Fatalf("prod's releases: %+v", rels)
	}
}

// TestTinyStacksBuildspec: a build.yml in TinyStacks' style (docker
// build, tag and push to $ECR_IMAGE_URL, minus the ECR login) works: the
// docker CLI is already logged in, and the image it pushed is released.
func TestTinyStacksBuildspec(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "tiny", "")
	buildspec := `version: 0.2
env:
  variables:
    CGO_ENABLED: "0"
    GOOS: linux
    DOCKER_BUILDKIT: "0"
phases:
  pre_build:
    commands:
      - echo "building $SERVICE_NAME for $STAGE_NAME into $ECR_IMAGE_URL"
  build:
    commands:
      - go build -trimpath -buildvcs=false -ldflags="-s -w" -o app .
      - docker build -q -t $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION .
      - docker tag $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION $ECR_IMAGE_URL:latest
  post_build:
    commands:
      - docker push $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION
      - docker push $ECR_IMAGE_URL:latest
`
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(buildspec), 0o644)
	r := s.mustRun(app, "deploy")
	if !strings.Contains(r.stderr, "building tiny for dev into "+s.registry+"/tiny") || !strings.Contains(r.stderr, "build.yml pushed "+s.registry+"/tiny:b1") {
		t.Fatalf("deploy progress:\n%s", r.stderr)
	}
	if code, body, _ := s.gw("GET", "dev.tiny.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("gateway: %d %q", code, body)
	}
	if img := status(t, s, "tiny").Stages[0].Release.Image; img != s.registry+"/tiny:b1" {
		t.Fatalf("released image %q", img)
	}

	// Pushed, the build runs in a git work tree, so TinyStacks' own
	// `$(git rev-parse HEAD)` tag works too.
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(strings.ReplaceAll(buildspec, "$CODEBUILD_RESOLVED_SOURCE_VERSION", "$(git rev-parse HEAD)")), 0o644)
	home := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "tiny"}} {
		if out, err := git(t, app, home, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	head, _ := git(t, app, home, "rev-parse", "HEAD")
	remote := strings.Replace(s.api, "http://", "http://slipway:"+s.token+"@", 1) + "/git/tiny.git"
	if out, err := git(t, app, home, "push", "-q", remote, "main"); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
	eventually(t, 90*time.Second, "pushed TinyStacks build serving", func() error {
		if img := status(t, s, "tiny").Stages[0].Release.Image; img != s.registry+"/tiny:"+head {
			return fmt.Errorf("released image %q", img)
		}
		return nil
	})
}

// TestRetention: with --keep-images 2, old images go, but never one a
// stage's recent releases use (prod runs an old build here), and a
// rollback to a removed image says why it cannot.
func TestRetention(t *testing.T) {
	s := startServer(t, "--keep-images", "2")
	app := fixtureApp(t, "keep", "stages:\n  - name: dev\n  - name: prod\n    approval: true\n")
	s.mustRun(app, "deploy", "-q") // b1
	s.mustRun(app, "approve", "keep", "prod")
	for i := 0; i < 3; i++ { // b2-b4 to dev as r3-r5 (r2 is prod's approval)
		s.mustRun(app, "deploy", "-q")
	}
	var builds []core.Build
	json.Unmarshal([]byte(s.mustRun(app, "builds", "keep", "-o", "json").stdout), &builds)
	pruned := map[string]bool{}
	for _, b := range builds {
		pruned[b.ID] = b.Pruned
	}
	if !pruned["b2"] || pruned["b1"] || pruned["b3"] || pruned["b4"] {
		t.Fatalf("pruned %v; want only b2 (b1 is prod's, b3/b4 the newest)", pruned)
	}
	exists := func(tag string) bool {
		return exec.Command("docker", "image", "inspect", s.registry+"/keep:"+tag).Run() == nil
	}
	if exists("b2") || !exists("b1") || !exists("b4") {
		t.Fatalf("local images: b1 %v, b2 %v, b4 %v", exists("b1"), exists("b2"), exists("b4"))
	}
	if line := errorLine(t, s.run(app, "rollback", "keep", "dev", "--to", "r3")); !strings.Contains(line, "retention has removed") {
		t.Fatalf("rollback to a pruned image: %q", line)
	}
	s.mustRun(app, "rollback", "keep", "dev") // to r4 (b3): kept
}

// TestReleaseYML: a TinyStacks release.yml (retag :$PREVIOUS_STAGE_NAME
// as :$STAGE_NAME and push) runs before each release of the build, with
// the stage's variables; a failing one leaves the stage as it was.
func TestReleaseYML(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "rel", "stages:\n  - name: dev\n  - name: prod\n    approval: true\n")
	releaseYML := `version: 0.2
phases:
  build:
    commands:
      - docker pull -q $ECR_IMAGE_URL:$PREVIOUS_STAGE_NAME
      - docker tag $ECR_IMAGE_URL:$PREVIOUS_STAGE_NAME $ECR_IMAGE_URL:$STAGE_NAME
      - docker push -q $ECR_IMAGE_URL:$STAGE_NAME
      - echo "released to $STAGE_NAME from $PREVIOUS_STAGE_NAME"
`
	os.WriteFile(filepath.Join(app, "release.yml"), []byte(releaseYML), 0o644)
	r := s.mustRun(app, "deploy")
	if !strings.Contains(r.stderr, "release.yml for stage dev (from latest)") || !strings.Contains(r.stderr, "released to dev from latest") {
		t.Fatalf("deploy:\n%s", r.stderr)
	}
	r = s.mustRun(app, "approve", "rel", "prod")
	if !strings.Contains(r.stderr, "released to prod from dev") {
		t.Fatalf("approve:\n%s", r.stderr)
	}
	if code, body, _ := s.gw("GET", "prod.rel.localhost", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("prod: %d %q", code, body)
	}
	// A failing release.yml: dev keeps its release.
	os.WriteFile(filepath.Join(app, "release.yml"), []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo migrating; exit 5\n"), 0o644)
	line := errorLine(t, s.run(app, "deploy", "-q"))
	if !strings.Contains(line, "release.yml for stage dev") || !strings.Contains(line, "exit status 5") {
		t.Fatalf("failing release.yml: %q", line)
	}
	if rel := status(t, s, "rel").Stages[0].Release; rel == nil || rel.ID != "r1" {
		t.Fatalf("dev moved after a failed release.yml: %+v", rel)
	}
}
