package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/manifest"
)

func runPhases(t *testing.T, yml string, timeout time.Duration) ([]string, error) {
	t.Helper()
	spec, err := manifest.ParseBuildspec("build.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	err = RunPhases(context.Background(), spec, t.TempDir(), map[string]string{"SLIPWAY_STACK": "s"}, timeout, Where{}, func(ev core.Event) {
		lines = append(lines, string(ev.Type)+": "+ev.Message)
	})
	return lines, err
}

func TestRunPhases(t *testing.T) {
	t.Setenv("SECRET_OF_THE_SERVER", "leak")
	lines, err := runPhases(t, `version: 0.2
env:
  variables:
    GREETING: hi
phases:
  pre_build:
    commands:
      - cd /tmp && echo "in $PWD"
  build:
    commands:
      - export X=1
      - echo "$GREETING $X $SLIPWAY_STACK [${SECRET_OF_THE_SERVER:-}]"
`, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"step: build.yml phase pre_build", "log: in /tmp", "step: build.yml phase build", "log: + echo", "log: hi 1 s []"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestRunPhasesFailure(t *testing.T) {
	_, err := runPhases(t, "version: 0.2\nphases:\n  build:\n    commands:\n      - echo before\n      - exit 4\n      - echo never\n", time.Minute)
	var de *core.Error
	if core.CodeOf(err) != core.CodeBuildFailed || !strings.Contains(err.Error(), "phase build failed: exit status 4") {
		t.Fatalf("got %v", err)
	}
	if ok := asError(err, &de); !ok || strings.Join(de.Details, "|") != "+ echo before|before|+ exit 4" {
		t.Fatalf("details %v", de)
	}
}

// TestRunPhasesBackgroundProcess: a command left running in the
// background must neither hang nor fail the phase, and must be killed.
func TestRunPhasesBackgroundProcess(t *testing.T) {
	start := time.Now()
	_, err := runPhases(t, "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30 &\n      - echo done\n", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("phase waited for the background process: %s", time.Since(start))
	}
}

func TestRunPhasesTimeout(t *testing.T) {
	_, err := runPhases(t, "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n", 300*time.Millisecond)
	if core.CodeOf(err) != core.CodeTimedOut || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("got %v", err)
	}
}

func asError(err error, target **core.Error) bool {
	e, ok := err.(*core.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestCacheVanished(t *testing.T) {
	for msg, want := range map[string]bool{
		`unable to find image "sha256:c734"`: true,
		"Error: No such image: sha256:abc":   true,
		"COPY failed: file not found":        false,
	} {
		if got := cacheVanished(errors.New(msg)); got != want {
			t.Errorf("%q: %v", msg, got)
		}
	}
}
