package starter

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestTemplates(t *testing.T) {
	if got, want := Templates(), []string{"go-crud"}; !slices.Equal(got, want) {
		t.Fatalf("Templates() = %q, want %q", got, want)
	}
}

// goCRUDFiles is what a go-crud scaffold must write, sorted.
var goCRUDFiles = []string{
	".dockerignore", ".gitignore", "Dockerfile", "README.md", "build.yml",
	"go.mod", "main.go", "main_test.go", "slipway.yml",
}

func TestScaffoldGoCRUD(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "my-app") // parents are created too
	got, err := Scaffold(dir, "my-app", "go-crud")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, goCRUDFiles) {
		t.Fatalf("Scaffold wrote %q, want %q", got, goCRUDFiles)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(goCRUDFiles) {
		t.Errorf("dir holds %d entries, want %d", len(entries), len(goCRUDFiles))
	}

	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, name := range goCRUDFiles {
		if strings.Contains(read(name), "{{") && name != "main.go" && name != "main_test.go" {
			t.Errorf("%s has an unrendered action", name)
		}
	}
	if got, want := read("go.mod"), "module my-app\n\ngo 1.26\n"; got != want {
		t.Errorf("go.mod = %q, want %q", got, want)
	}
	if s := read("slipway.yml"); !strings.Contains(s, "\nname: my-app\n") {
		t.Errorf("slipway.yml does not name the stack:\n%s", s)
	}
	if s := read("README.md"); !strings.HasPrefix(s, "# my-app\n") || !strings.Contains(s, "dev.my-app.localhost") {
		t.Errorf("README.md does not use the name:\n%s", s)
	}
	// Verbatim files are byte-for-byte the embedded ones.
	for _, name := range []string{"main.go", "Dockerfile", ".dockerignore", "build.yml"} {
		want, err := os.ReadFile(filepath.Join("templates", "go-crud", name))
		if err != nil {
			t.Fatal(err)
		}
		if read(name) != string(want) {
			t.Errorf("%s differs from the template's", name)
		}
	}
}

func TestScaffoldIntoEmptyExistingDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := Scaffold(dir, "app", "go-crud"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		t.Error(err)
	}
}

func TestScaffoldRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "main.go")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Scaffold(dir, "app", "go-crud")
	if core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("err = %v (%s), want conflict", err, core.CodeOf(err))
	}
	if want := "directory " + dir + " already exists and is not empty"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Error("existing file was overwritten")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %d entries after refusal, want 1", len(entries))
	}
}

func TestScaffoldRefusesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Scaffold(p, "app", "go-crud"); core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("err = %v, want conflict", err)
	}
}

func TestScaffoldUnknownTemplate(t *testing.T) {
	for _, name := range []string{"nope", "", ".", "..", "go-crud/..", "../templates", "go-crud/main.go"} {
		dir := filepath.Join(t.TempDir(), "app")
		_, err := Scaffold(dir, "app", name)
		if core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("template %q: err = %v, want invalid", name, err)
			continue
		}
		want := `unknown template "` + name + `"; available: go-crud`
		if err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("template %q: dir created despite the error", name)
		}
	}
}

func TestScaffoldBadName(t *testing.T) {
	for _, name := range []string{"", "My-App", "1app", "app-", "a_b", strings.Repeat("a", core.MaxStackNameLen+1)} {
		dir := filepath.Join(t.TempDir(), "app")
		_, err := Scaffold(dir, name, "go-crud")
		want := core.ValidateStackName(name)
		if err == nil || want == nil || err.Error() != want.Error() || core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("name %q: err = %v, want %v", name, err, want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("name %q: dir created despite the error", name)
		}
	}
}

// TestDockerignoreKeepsBuildInputs guards the ordering trap: the client
// tars the context honouring .dockerignore before build.yml runs, so the
// sources and build files must survive it, and so must app, build.yml's
// output, on its way to the image build.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	b, err := templatesFS.ReadFile("templates/go-crud/.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Errorf(".dockerignore does not exclude .git: %q", patterns)
	}
	for _, keep := range []string{"app", "main.go", "go.mod", "build.yml", "slipway.yml", "Dockerfile"} {
		for _, p := range patterns {
			if ok, _ := path.Match(strings.TrimPrefix(p, "/"), keep); ok || strings.HasPrefix(p, "!") {
				t.Errorf(".dockerignore pattern %q excludes %s (or re-includes, which this test does not model)", p, keep)
			}
		}
	}
}

// TestSlipwayYMLKeys keeps the manifest to the keys the strict parser
// accepts.
func TestSlipwayYMLKeys(t *testing.T) {
	b, err := templatesFS.ReadFile("templates/go-crud/slipway.yml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"name": true, "architecture": true, "port": true, "healthcheck": true,
		"build": true, "dockerfile": true, "stages": true, "env": true, "approval": true, "TEST_ENV_VAR": true,
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(strings.TrimSpace(line), "- ")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, _ := strings.Cut(line, ":")
		if !allowed[key] {
			t.Errorf("slipway.yml uses key %q", key)
		}
	}
}
