package cloudformation

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestBuildspecYAML: the inline buildspecs parse as buildspec 0.2 and
// carry every command unchanged (block scalars need no quoting).
func TestBuildspecYAML(t *testing.T) {
	for name, spec := range map[string]string{"build": buildSpec("docker/Dockerfile.prod"), "release": releaseSpec()} {
		var bs struct {
			Version any `yaml:"version"`
			Phases  map[string]struct {
				Commands []string `yaml:"commands"`
			} `yaml:"phases"`
		}
		if err := yaml.Unmarshal([]byte(spec), &bs); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, spec)
		}
		if v, _ := bs.Version.(float64); v != 0.2 {
			t.Errorf("%s: version %v", name, bs.Version)
		}
		cmds := bs.Phases["build"].Commands
		if len(cmds) < 3 || !strings.HasPrefix(cmds[0], "aws ecr get-login-password") || cmds[1] != runnerCommand() {
			t.Fatalf("%s: build commands %q", name, cmds)
		}
		file := map[string]string{"build": "build.yml", "release": "release.yml"}[name]
		if cmds[2] != "python3 /tmp/slipway-runspec.py "+file+"\n" {
			t.Errorf("%s: does not run %s first: %q", name, file, cmds[2])
		}
	}
	if !strings.Contains(buildSpec("docker/Dockerfile.prod"), `docker build -f "docker/Dockerfile.prod"`) {
		t.Error("the build does not use the stack's Dockerfile")
	}
}

// TestRunner runs the buildspec runner with the machine's python3 on a
// build.yml: phases in order, buildspec variables over the environment,
// finally always, on-failure CONTINUE going on, ABORT stopping.
func TestRunner(t *testing.T) {
	if err := exec.Command("python3", "-c", "import yaml").Run(); err != nil {
		t.Skipf("needs python3 with PyYAML (CodeBuild's image installs it): %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "runspec.py")
	os.WriteFile(script, []byte(runner), 0o644)
	run := func(buildspec string) (string, error) {
		os.WriteFile(filepath.Join(dir, "build.yml"), []byte(buildspec), 0o644)
		cmd := exec.Command("python3", script, "build.yml")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "INJECTED=from-codebuild", "OVERRIDDEN=from-codebuild")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(`version: 0.2
env:
  variables:
    OVERRIDDEN: from-buildspec
    FLAG: true
phases:
  post_build:
    commands:
      - echo "post $INJECTED" >> log
  install:
    commands:
      - echo "install $OVERRIDDEN $FLAG" >> log
  pre_build:
    on-failure: CONTINUE
    commands:
      - echo pre >> log
      - false
      - echo never >> log
    finally:
      - echo finally >> log
`)
	if err != nil {
		t.Fatalf("runner: %v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	if want := "install from-buildspec true\npre\nfinally\npost from-codebuild\n"; string(log) != want {
		t.Errorf("log:\n%s\nwant:\n%s", log, want)
	}
	os.Remove(filepath.Join(dir, "log"))
	if _, err := run("version: 0.2\nphases:\n  build:\n    commands: [\"false\"]\n  post_build:\n    commands: [\"echo post >> log\"]\n"); err == nil {
		t.Error("a failing build phase did not fail the runner")
	}
	if _, err := os.Stat(filepath.Join(dir, "log")); err == nil {
		t.Error("a phase ran after an aborted one")
	}
	os.Remove(filepath.Join(dir, "build.yml"))
	cmd := exec.Command("python3", script, "build.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "nothing to run") {
		t.Errorf("without build.yml: %v %s", err, out)
	}
}

// TestReleaseRollout runs the release's rollout steps in sh with a fake
// aws CLI that records its calls: a deployed stage is rolled out (ECS:
// a new deployment, waited for; Lambda: new code, then a version and the
// alias when it has one), a stage whose stack does not exist yet is
// only tagged, and a failing rollout fails the step.
func TestReleaseRollout(t *testing.T) {
	dir := t.TempDir()
	// The fake answers describe-services with FAKE_SERVICES, get-function
	// with FAKE_FUNCTION's status, publish-version with 7, and fails
	// update-service when FAKE_FAIL is set.
	fake := `#!/bin/sh
echo "aws $*" >> "$CALLS"
case "$1 $2" in
"ecs describe-services") [ -n "$FAKE_SERVICES" ] || { echo "ClusterNotFoundException" >&2; exit 254; }; echo "$FAKE_SERVICES" ;;
"ecs update-service") [ -z "$FAKE_FAIL" ] || exit 1 ;;
"lambda get-function") exit "${FAKE_FUNCTION:-0}" ;;
"lambda publish-version") echo 7 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(step string, env ...string) (calls, out string, err error) {
		calls = filepath.Join(dir, "calls")
		os.Remove(calls)
		cmd := exec.Command("sh", "-e", "-c", step)
		cmd.Env = append([]string{"PATH=" + dir + ":" + os.Getenv("PATH"), "CALLS=" + calls,
			"SLIPWAY_STACK=shop", "STAGE_NAME=prod", "ECR_IMAGE_URL=1.dkr.ecr/shop"}, env...)
		o, err := cmd.CombinedOutput()
		c, _ := os.ReadFile(calls)
		return string(c), string(o), err
	}
	ecs := []string{"CLUSTER_ARN=arn:cluster/shop-prod", "SERVICE_NAME=shop-prod"}
	calls, _, err := run(releaseECS, append(ecs, "FAKE_SERVICES=1")...)
	if err != nil || !strings.Contains(calls, "aws ecs update-service --cluster arn:cluster/shop-prod --service shop-prod --force-new-deployment\n") ||
		!strings.Contains(calls, "aws ecs wait services-stable") {
		t.Errorf("deployed ECS stage: %v\n%s", err, calls)
	}
	for _, services := range []string{"", "0"} {
		calls, out, err := run(releaseECS, append(ecs, "FAKE_SERVICES="+services)...)
		if err != nil || strings.Contains(calls, "update-service") || !strings.Contains(out, "create the stage's stack from shop-prod.json") {
			t.Errorf("ECS stage not deployed (services %q): %v\n%s%s", services, err, calls, out)
		}
	}
	if _, _, err := run(releaseECS, append(ecs, "FAKE_SERVICES=1", "FAKE_FAIL=1")...); err == nil {
		t.Error("a failing update-service did not fail the step")
	}
	lambda := []string{"LAMBDA_FUNCTION_NAME=shop-prod", "LAMBDA_ALIAS=live"}
	calls, _, err = run(releaseLambda, lambda...)
	for _, want := range []string{"aws lambda update-function-code --function-name shop-prod --image-uri 1.dkr.ecr/shop:prod\n",
		"aws lambda publish-version", "aws lambda update-alias --function-name shop-prod --name live --function-version 7\n"} {
		if err != nil || !strings.Contains(calls, want) {
			t.Errorf("deployed Lambda stage: %v; no %q in\n%s", err, want, calls)
		}
	}
	calls, _, _ = run(releaseLambda, "LAMBDA_FUNCTION_NAME=shop-prod")
	if strings.Contains(calls, "publish-version") {
		t.Errorf("a stage without an alias published a version:\n%s", calls)
	}
	calls, out, err := run(releaseLambda, append(lambda, "FAKE_FUNCTION=254")...)
	if err != nil || strings.Contains(calls, "update-function-code") || !strings.Contains(out, "create the stage's stack from shop-prod.json") {
		t.Errorf("Lambda stage not deployed: %v\n%s%s", err, calls, out)
	}
	if calls, _, _ := run(releaseECS + "\n" + releaseLambda); calls != "" {
		t.Errorf("a release without CLUSTER_ARN or LAMBDA_FUNCTION_NAME called aws:\n%s", calls)
	}
}
