package kubernetes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/export/kubernetes/kubeschema"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/starter"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the exporter's output")

// starterYML is the slipway.yml the go-crud starter writes for a stack
// called shop.
func starterYML(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := starter.Scaffold(dir, "shop", "go-crud"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "slipway.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// variant rewrites the starter's slipway.yml for an architecture and an
// endpoint kind, and parses it.
func variant(t *testing.T, yml, arch, endpoint string) core.StackSpec {
	t.Helper()
	const archLine = "architecture: container\n"
	if !strings.Contains(yml, archLine) || !strings.Contains(yml, "\nstages:\n") {
		t.Fatalf("the starter's slipway.yml changed shape; update this test:\n%s", yml)
	}
	yml = strings.Replace(yml, archLine, "architecture: "+arch+"\n", 1)
	yml = strings.Replace(yml, "\nstages:\n", "\nendpoint:\n  kind: "+endpoint+"\nstages:\n", 1)
	spec, err := manifest.Parse("slipway.yml", []byte(yml))
	if err != nil {
		t.Fatalf("parse %s/%s variant: %v", arch, endpoint, err)
	}
	return spec
}

// starterStack is what the server would hand the exporter for the
// starter: dev released, prod never released, a secret and a custom
// domain on prod.
func starterStack(spec core.StackSpec) export.Stack {
	s := export.Stack{Spec: spec, Domain: "example.net"}
	for _, st := range spec.Stages {
		stage := export.Stage{Spec: st, Env: st.Env}
		if st.Name == "dev" {
			stage.Image = "127.0.0.1:5000/shop@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		} else {
			stage.Secrets = map[string]string{"DATABASE_URL": "", "API_TOKEN": ""}
			stage.Domains = []string{"shop.example.com"}
		}
		s.Stages = append(s.Stages, stage)
	}
	return s
}

func loadSchemas(t *testing.T) *kubeschema.Schemas {
	t.Helper()
	dir, err := kubeschema.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	s, err := kubeschema.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGoldenStarter exports the starter stack in every combination of
// architecture and endpoint, validates every document against the
// official schemas and compares the files with testdata/golden.
func TestGoldenStarter(t *testing.T) {
	yml := starterYML(t)
	schemas := loadSchemas(t)
	for _, arch := range []string{"container", "serverless"} {
		for _, endpoint := range []string{"gateway", "balancer"} {
			name := arch + "-" + endpoint
			t.Run(name, func(t *testing.T) {
				stack := starterStack(variant(t, yml, arch, endpoint))
				files, err := New().Export(stack, export.Options{})
				if err != nil {
					t.Fatal(err)
				}
				again, err := New().Export(stack, export.Options{})
				if err != nil || !slices.EqualFunc(files, again, func(a, b export.File) bool {
					return a.Name == b.Name && bytes.Equal(a.Data, b.Data)
				}) {
					t.Fatalf("a second export differs (%v): output is not deterministic", err)
				}
				validateFiles(t, schemas, files)
				compareGolden(t, filepath.Join("testdata", "golden", name), files)
			})
		}
	}
}

// validateFiles checks every YAML document of files against the schemas.
func validateFiles(t *testing.T, schemas *kubeschema.Schemas, files []export.File) {
	t.Helper()
	docs := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".yaml") {
			continue
		}
		problems, err := schemas.ValidateYAML(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", f.Name, p)
		}
		docs += len(kubeschema.SplitDocuments(f.Data))
	}
	if docs == 0 {
		t.Fatal("no documents were validated")
	}
}

// warningsFile is a golden file that is not an exported file: every
// file's warnings, "name: warning" per line.
const warningsFile = "warnings.txt"

// compareGolden compares files, and their warnings as warnings.txt, with
// dir's, which must hold exactly them; -update rewrites dir.
func compareGolden(t *testing.T, dir string, files []export.File) {
	t.Helper()
	var warnings strings.Builder
	for _, f := range files {
		if f.Name == warningsFile {
			t.Fatalf("the exporter wrote %s, the name of the warnings' golden file", f.Name)
		}
		for _, w := range f.Warnings {
			if strings.Contains(w, "\n") {
				t.Errorf("%s: warning %q is not one line", f.Name, w)
			}
			warnings.WriteString(f.Name + ": " + w + "\n")
		}
	}
	files = append(slices.Clone(files), export.File{Name: warningsFile, Data: []byte(warnings.String())})
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test -update to write the golden files)", err)
	}
	var want, got []string
	for _, e := range entries {
		want = append(want, e.Name())
	}
	for _, f := range files {
		got = append(got, f.Name)
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			continue // reported with the names below
		}
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s differs from %s (run go test -update to accept):\n%s", f.Name, dir, f.Data)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("files %v, golden files %v", got, want)
	}
}

// TestValidationCatchesBrokenExports breaks the exporter's own output one
// way each and checks that the validation the golden tests rely on fails.
func TestValidationCatchesBrokenExports(t *testing.T) {
	yml := starterYML(t)
	schemas := loadSchemas(t)
	tests := []struct {
		arch, file, old, new, want string
	}{
		{"container", "dev.yaml", "        - containerPort: 8000", "        - containerPort: \"8000\"", "containerPort: \"8000\" is not of type integer"},
		{"container", "dev.yaml", "  maxReplicas: 5", "  maxReplica: 5", "property maxReplica is not allowed"},
		{"container", "dev.yaml", "        pathType: Prefix", "        pathType: Prefix\n        weight: 1", "property weight is not allowed"},
		{"container", "prod.secrets.yaml", "type: Opaque", "type: [Opaque]", "/type"},
		{"serverless", "dev.yaml", "      containerConcurrency: 1", "      containerConcurency: 1", "property containerConcurency is not in the schema"},
		{"serverless", "dev.yaml", "      timeoutSeconds: 30", "      timeoutSeconds: 30s", `"30s" is not of type integer`},
		{"serverless", "dev.yaml", "            memory: 512Mi", "            memory: 512MB", `"512MB" does not match`},
	}
	for _, tt := range tests {
		t.Run(tt.arch+"/"+tt.want, func(t *testing.T) {
			files, err := New().Export(starterStack(variant(t, yml, tt.arch, "gateway")), export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var data string
			for _, f := range files {
				if f.Name == tt.file {
					data = string(f.Data)
				}
			}
			if !strings.Contains(data, tt.old+"\n") {
				t.Fatalf("test is stale: %q is not in %s:\n%s", tt.old, tt.file, data)
			}
			problems, err := schemas.ValidateYAML([]byte(strings.Replace(data, tt.old+"\n", tt.new+"\n", 1)))
			if err != nil {
				t.Fatal(err)
			}
			if all := strings.Join(problems, "\n"); !strings.Contains(all, tt.want) {
				t.Errorf("problems do not mention %q:\n%s", tt.want, all)
			}
		})
	}
}
