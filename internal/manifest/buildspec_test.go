package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestParseBuildspecGolden(t *testing.T) {
	runGolden(t, "testdata/buildspec", "build.yml", ParseBuildspec)
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
		_, err := ParseBuildspec("build.yml", data)
		if err == nil {
			return
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
