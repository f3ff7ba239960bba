package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/client"
)

// TestWriteExport: files land under the directory (subdirectories
// created), mode 0600 even over an existing readable file, and a name
// leaving the directory is refused.
func TestWriteExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "dev.secrets.yaml")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []client.ExportFile{{Name: "dev.secrets.yaml", Data: "secret"}, {Name: "sub/prod.yaml", Data: "prod"}}
	if err := writeExport(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f.Name, info.Mode().Perm())
		}
		if data, _ := os.ReadFile(path); string(data) != f.Data {
			t.Errorf("%s holds %q", f.Name, data)
		}
	}
	for _, name := range []string{"../escape.yaml", "/etc/x.yaml"} {
		err := writeExport(dir, []client.ExportFile{{Name: name, Data: "x"}})
		if err == nil || !strings.Contains(err.Error(), "outside the output directory") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCountOf(t *testing.T) {
	for n, want := range map[int]string{0: "0 warnings", 1: "1 warning", 2: "2 warnings"} {
		if got := countOf(n, "warning"); got != want {
			t.Errorf("countOf(%d) = %q, want %q", n, got, want)
		}
	}
}
