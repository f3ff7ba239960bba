package integration

import (
	"encoding/json"
	"fmt"
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
}
