package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestParseBuildspecGolden(t *testing.T) {
	runGolden(t, "testdata/buildspec", "build.yml", ParseBuildspec)
}

// TestBuildspecWarnings checks what the goldens cannot say by themselves:
// warn-* cases parse with warnings, every other valid case without, and
// each warning is one "build.yml:line:col: ..." line, in position order.
func TestBuildspecWarnings(t *testing.T) {
	cases, _ := filepath.Glob("testdata/buildspec/*.yml")
	for _, in := range cases {
		name := strings.TrimSuffix(filepath.Base(in), ".yml")
		if strings.HasPrefix(name, "err-") {
			continue
		}
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := ParseBuildspec("build.yml", data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := strings.HasPrefix(name, "warn-"); want != (len(bs.Warnings) > 0) {
			t.Errorf("%s: warnings = %q, want some: %v", name, bs.Warnings, want)
		}
		checkWarnings(t, bs.Warnings)
	}
}

func checkWarnings(t *testing.T, warnings []string) {
	t.Helper()
	last := [2]int{}
	for _, w := range warnings {
		var line, col int
		if _, err := fmt.Sscanf(w, "build.yml:%d:%d:", &line, &col); err != nil || line < 1 || col < 1 {
			t.Fatalf("warning without build.yml:line:col: %q", w)
		}
		if strings.ContainsAny(w, "\r\n") || !strings.Contains(w, " is not supported by Slipway ") {
			t.Fatalf("malformed warning: %q", w)
		}
		if line < last[0] || line == last[0] && col < last[1] {
			t.Fatalf("warnings out of order: %q", warnings)
		}
		last = [2]int{line, col}
	}
}

func FuzzParseBuildspec(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/buildspec/*.yml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("version: 0.2\nphases:\n  build:\n    commands:\n      - echo: hi\n"))
	f.Add([]byte("version: 0.2\nphases: &p\n  build: *p\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := ParseBuildspec("build.yml", data)
		if err == nil {
			checkWarnings(t, bs.Warnings)
			return
		}
		if bs.Warnings != nil {
			t.Fatalf("warnings with an error: %q", bs.Warnings)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "build.yml:") || strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("malformed error: %q", msg)
		}
		if core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("code = %s, want invalid: %q", core.CodeOf(err), msg)
		}
	})
}
