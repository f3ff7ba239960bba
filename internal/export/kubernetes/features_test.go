package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/manifest"
)

// TestGoldenFeatures exports testdata/stacks/*.yml, with the state a
// server would add (images, secrets with values, custom domains, alarms),
// validates every document and compares with testdata/golden/<name>.
func TestGoldenFeatures(t *testing.T) {
	schemas := loadSchemas(t)
	cases, err := filepath.Glob(filepath.Join("testdata", "stacks", "*.yml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no stacks in testdata/stacks (%v)", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := manifest.Parse(filepath.Base(path), data)
			if err != nil {
				t.Fatal(err)
			}
			stack := export.Stack{Spec: spec, BuildVars: map[string]string{"GOFLAGS": "-trimpath", "CGO_ENABLED": "0"}} // Domain "": slipway's default
			for i, st := range spec.Stages {
				stage := export.Stage{
					Spec:    st,
					Image:   "registry.example.com/" + spec.Name + ":" + st.Name,
					Env:     st.Env,
					Secrets: map[string]string{"TOKEN": "s3cr3t-" + st.Name},
				}
				if i == len(spec.Stages)-1 {
					stage.Domains = []string{"www.example.com", "api.example.com", "www.example.com"}
					stage.Alarms = []core.Alarm{
						{Name: "slow", Kind: core.AlarmMetric, Metric: "p99_ms", Comparison: "above", Threshold: 500, Period: core.Duration(time.Minute), For: 3},
						{Name: "crash-loop-" + st.Name, Kind: core.AlarmCrashLoop},
					}
				}
				stack.Stages = append(stack.Stages, stage)
			}
			files, err := New().Export(stack, export.Options{IncludeSecrets: true})
			if err != nil {
				t.Fatal(err)
			}
			validateFiles(t, schemas, files)
			compareGolden(t, filepath.Join("testdata", "golden", name), files)
		})
	}
}

// TestEveryManifestCaseExportsValid exports every valid slipway.yml of
// the manifest parser's golden cases (every key and edge value it
// accepts) and validates each document against the official schemas.
func TestEveryManifestCaseExportsValid(t *testing.T) {
	schemas := loadSchemas(t)
	cases, err := filepath.Glob(filepath.Join("..", "..", "manifest", "testdata", "slipway", "*.yml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no manifest cases (%v)", err)
	}
	n := 0
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yml")
		if strings.HasPrefix(name, "err-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := manifest.Parse(filepath.Base(path), data)
			if err != nil {
				t.Fatal(err)
			}
			stack := export.Stack{Spec: spec, Domain: "apps.example.org"}
			for _, st := range spec.Stages {
				stack.Stages = append(stack.Stages, export.Stage{Spec: st, Env: st.Env,
					Secrets: map[string]string{"KEY": "v"}, Domains: []string{st.Name + ".example.com"}})
			}
			for _, include := range []bool{false, true} {
				files, err := New().Export(stack, export.Options{IncludeSecrets: include})
				if err != nil {
					t.Fatal(err)
				}
				validateFiles(t, schemas, files)
			}
		})
		n++
	}
	if n < 10 {
		t.Errorf("only %d manifest cases; the glob is probably wrong", n)
	}
}
