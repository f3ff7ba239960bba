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
