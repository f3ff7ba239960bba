package cloudformation

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/export/cloudformation/lint"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/starter"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the exporter's output")

// unschemed are the types the exporter emits that have no provider
// schema in testdata/schemas, with their attributes (from the
// CloudFormation documentation).
var unschemed = lint.Unschemed{
	"AWS::Lambda::Version": {"Version", "FunctionArn"},
	"AWS::Lambda::Alias":   {"AliasArn"},
}

func loadSchemas(t *testing.T) *lint.Schemas {
	t.Helper()
	s, err := lint.LoadDir(filepath.Join("testdata", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// starterSpec is the starter template's slipway.yml for a stack named
// shop, switched to arch and, at the top level, to the endpoint kind.
func starterSpec(t *testing.T, arch, kind string) core.StackSpec {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := starter.Scaffold(dir, "shop", "go-crud"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "slipway.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "architecture: container", "architecture: "+arch, 1)
	if !strings.Contains(text, "architecture: "+arch) {
		t.Fatal("the starter's slipway.yml no longer says architecture: container")
	}
	text += "endpoint:\n  kind: " + kind + "\n"
	spec, err := manifest.Parse("slipway.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// stackOf is what the service would pass for spec: every stage released,
// with its slipway.yml env.
func stackOf(spec core.StackSpec) export.Stack {
	s := export.Stack{Spec: spec, Domain: "localhost"}
	for _, st := range spec.Stages {
		s.Stages = append(s.Stages, export.Stage{
			Spec:  st,
			Image: "127.0.0.1:5000/" + spec.Name + "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			Env:   st.Env,
		})
	}
	return s
}

// checkFiles validates every file and compares it with its golden copy
// in testdata/golden/<name>/.
func checkFiles(t *testing.T, schemas *lint.Schemas, name string, files []export.File) {
	t.Helper()
	dir := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if problems := schemas.Check(f.Data, unschemed); len(problems) > 0 {
			t.Errorf("%s: %d problems:\n%s", f.Name, len(problems), strings.Join(problems, "\n"))
		}
		golden := filepath.Join(dir, f.Name)
		if *update {
			if err := os.WriteFile(golden, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(f.Data, want) {
			t.Errorf("%s differs from %s (run go test -update and review the diff)", f.Name, golden)
		}
	}
	if !*update {
		entries, _ := os.ReadDir(dir)
		if len(entries) != len(files) {
			t.Errorf("%s holds %d files, the export %d", dir, len(entries), len(files))
		}
	}
}

// TestStarterGolden exports the starter stack in every combination of
// architecture and endpoint.
func TestStarterGolden(t *testing.T) {
	schemas := loadSchemas(t)
	for _, arch := range []string{"container", "serverless"} {
		for _, kind := range []string{core.EndpointGateway, core.EndpointBalancer} {
			name := "starter-" + arch + "-" + kind
			t.Run(name, func(t *testing.T) {
				files, err := Exporter{}.Export(stackOf(starterSpec(t, arch, kind)), export.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if len(files) != 3 {
					t.Fatalf("got %d files, want the shared template and dev's and prod's", len(files))
				}
				checkFiles(t, schemas, name, files)
			})
		}
	}
}

// TestFeaturesGolden exports stacks that use every feature the
// templates map (and some they cannot, which must turn into warnings).
func TestFeaturesGolden(t *testing.T) {
	schemas := loadSchemas(t)
	cases := []struct {
		name, manifest string
		opts           export.Options
		warnings       []string // substrings expected among the warnings
	}{
		{name: "gateway-full", manifest: "gateway-full.yml", opts: export.Options{IncludeSecrets: true},
			warnings: []string{"api_keys: required", "usage plan free", "usage plan gold", "jwt.jwks_url", "custom domains", "alarm cold (cold_starts)", "alarm webhooks"}},
		{name: "serverless-full", manifest: "serverless-full.yml",
			warnings: []string{"Lambda Web Adapter", "secret variables are resolved", "alarm cpu (cpu_percent)", "concurrency 10"}},
		{name: "balancer-tuned", manifest: "balancer-tuned.yml",
			warnings: []string{"alarm cold (cold_starts)", "route /api to stage prod of stack legacy", "network.egress: false"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "stacks", c.manifest))
			if err != nil {
				t.Fatal(err)
			}
			spec, err := manifest.Parse(c.manifest, data)
			if err != nil {
				t.Fatal(err)
			}
			s := stackOf(spec)
			s.BuildVars = map[string]string{"DOCKERFILE_PATH": "Dockerfile"}
			for i := range s.Stages {
				decorate(&s.Stages[i], spec)
			}
			files, err := Exporter{}.Export(s, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, schemas, c.name, files)
			var all []string
			for _, f := range files {
				all = append(all, f.Warnings...)
			}
			joined := strings.Join(all, "\n")
			for _, w := range c.warnings {
				if !strings.Contains(joined, w) {
					t.Errorf("no warning mentions %q; warnings:\n%s", w, joined)
				}
			}
			for _, f := range files {
				if !c.opts.IncludeSecrets && bytes.Contains(f.Data, []byte("s3cr3t")) {
					t.Errorf("%s holds a secret value without IncludeSecrets", f.Name)
				}
			}
		})
	}
}

// decorate gives a stage what the state store would: a secret, a domain
// and alarms, some without a CloudWatch equivalent.
func decorate(st *export.Stage, spec core.StackSpec) {
	st.Secrets = map[string]string{"DB_PASSWORD": "s3cr3t", "API_TOKEN": "t0ken"}
	st.Domains = []string{st.Spec.Name + ".example.com"}
	alarm := func(id, name, metric, cmp string, threshold float64, period time.Duration, n int, notify ...string) core.Alarm {
		return core.Alarm{ID: id, Name: name, Stack: spec.Name, Stage: st.Spec.Name, Kind: core.AlarmMetric,
			Metric: metric, Comparison: cmp, Threshold: threshold, Period: core.Duration(period), For: n, Notify: notify}
	}
	st.Alarms = []core.Alarm{
		alarm("a1", "errors", "errors", "above", 5, time.Minute, 3, "https://hooks.example.com/x"),
		alarm("a2", "slow", "p99_latency_ms", "above", 800, 5*time.Minute, 2),
		alarm("a3", "cpu", "cpu_percent", "above", 90, 90*time.Second, 1),
		alarm("a4", "cold", "cold_starts", "above", 10, time.Minute, 1),
		alarm("a5", "idle", "requests", "below", 1, 15*time.Second, 4),
		alarm("a6", "ok", "status_2xx", "below", 1, time.Minute, 1),
		alarm("a7", "busy", "instances", "above", 8, time.Minute, 1),
		{ID: "crash-loop-" + st.Spec.Name, Name: "crash-loop", Kind: core.AlarmCrashLoop, Stack: spec.Name, Stage: st.Spec.Name},
	}
}

func TestFargateSize(t *testing.T) {
	for _, c := range []struct {
		cpu            float64
		mem            int
		units, wantMem int
	}{
		{0.25, 512, 256, 512},
		{0.25, 2048, 256, 2048},
		{0.25, 3000, 512, 3072},
		{1, 2048, 1024, 2048},
		{0.3, 512, 512, 1024},
		{4, 30720, 4096, 30720},
		{8, 64000, 4096, 30720},
	} {
		units, mem := fargateSize(c.cpu, c.mem)
		if units != c.units || mem != c.wantMem {
			t.Errorf("fargateSize(%g, %d) = %d, %d; want %d, %d", c.cpu, c.mem, units, mem, c.units, c.wantMem)
		}
	}
}

func TestCWPeriod(t *testing.T) {
	for in, want := range map[time.Duration]int{
		5 * time.Second: 60, 10 * time.Second: 60, 30 * time.Second: 60, time.Minute: 60, 61 * time.Second: 120,
		90 * time.Second: 120, 5 * time.Minute: 300, 24 * time.Hour: 86400,
	} {
		if got := cwPeriod(core.Duration(in)); got != want {
			t.Errorf("cwPeriod(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestMissingData(t *testing.T) {
	sum := cwMetric{Statistic: "Sum"}
	for _, c := range []struct {
		name      string
		m         cwMetric
		cmp       string
		threshold float64
		want      string
	}{
		{"requests below 1: an idle period is zero, which breaches", sum, "below", 1, "breaching"},
		{"errors above 5: an idle period is zero, which does not", sum, "above", 5, "notBreaching"},
		{"errors above 0", sum, "above", 0, "notBreaching"},
		{"below 0 never breaches at zero", sum, "below", 0, "notBreaching"},
		{"above a negative threshold breaches at zero", sum, "above", -1, "breaching"},
		{"a gauge's gap is missing", cwMetric{Statistic: "Average"}, "below", 50, "missing"},
		{"a percentile's gap is missing", cwMetric{Extended: "p99"}, "above", 500, "missing"},
		{"a maximum's gap is missing", cwMetric{Statistic: "Maximum"}, "below", 1, "missing"},
	} {
		if got := missingData(c.m, c.cmp, c.threshold); got != c.want {
			t.Errorf("%s: missingData = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLogicalID(t *testing.T) {
	for in, want := range map[string]string{
		"prod": "Prod", "my-stage": "MyStage", "DB_PASSWORD": "DbPassword", "": "X", "a1": "A1",
	} {
		if got := logicalID(in); got != want {
			t.Errorf("logicalID(%q) = %q, want %q", in, got, want)
		}
	}
	ids := uniqueIDs("S", []string{"A_B", "AB", "ab"})
	if ids["A_B"] == ids["AB"] || ids["AB"] == ids["ab"] || ids["A_B"] == ids["ab"] {
		t.Errorf("uniqueIDs collide: %v", ids)
	}
}

// TestBrokenTemplateFails breaks an exported template in the ways a
// bug in the exporter would, and expects the checks to say so: the
// golden tests' validation can fail.
func TestBrokenTemplateFails(t *testing.T) {
	schemas := loadSchemas(t)
	files, err := Exporter{}.Export(stackOf(starterSpec(t, "container", core.EndpointBalancer)), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stage := files[1].Data
	for _, c := range []struct{ name, old, new, want string }{
		{"missing resource", `"Cluster": {`, `"Klaster": {`, `Ref "Cluster" names no resource`},
		{"bad attribute", `${LoadBalancer.DNSName}`, `${LoadBalancer.Hostname}`, "has no attribute Hostname"},
		{"bad value", `"RetentionInDays": 90`, `"RetentionInDays": 91`, "91 is not one of"},
		{"bad type", `"DesiredCount": 1`, `"DesiredCount": "one"`, `"one" is not of type integer`},
		{"unknown condition", `"Condition": "CreateVpc"`, `"Condition": "MakeVpc"`, `condition "MakeVpc" is not defined`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(stage, []byte(c.old)) {
				t.Fatalf("the template no longer holds %s", c.old)
			}
			broken := bytes.Replace(stage, []byte(c.old), []byte(c.new), 1)
			problems := schemas.Check(broken, unschemed)
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Fatalf("want a problem with %q, got:\n%s", c.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// TestLongestNamesValidate: names derived from the longest stack and
// stage names Slipway allows stay within AWS's limits, in every
// architecture and endpoint.
func TestLongestNamesValidate(t *testing.T) {
	schemas := loadSchemas(t)
	stack := "s" + strings.Repeat("a-", 19) + "z" // 40 characters
	stage := "p" + strings.Repeat("r", 18) + "d"  // 20 characters
	if len(stack) != core.MaxStackNameLen || len(stage) != core.MaxStageNameLen {
		t.Fatalf("lengths %d and %d", len(stack), len(stage))
	}
	for _, arch := range []core.Architecture{core.ArchContainer, core.ArchServerless} {
		for _, kind := range []string{core.EndpointGateway, core.EndpointBalancer} {
			ep := core.DefaultEndpoint()
			ep.Kind = kind
			sl := core.DefaultServerless()
			sl.MinInstances = 1
			sl.Schedules = []core.Schedule{{Expression: "rate(1 hour)"}}
			spec := core.StackSpec{Name: stack, Architecture: arch, Port: 8000, Stages: []core.StageSpec{
				{Name: stage, Endpoint: ep, Scale: core.DefaultScale(), Serverless: sl},
			}}
			s := stackOf(spec)
			decorate(&s.Stages[0], spec)
			files, err := Exporter{}.Export(s, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if problems := schemas.Check(f.Data, unschemed); len(problems) > 0 {
					t.Errorf("%s %s %s: %s", arch, kind, f.Name, strings.Join(problems, "\n"))
				}
			}
		}
	}
}

// TestSchemasAreTheShared: testdata/schemas are byte-for-byte copies of
// the official provider schemas in ../shared/schemas/cloudformation (kept
// here so the module's tests run without that directory), so the
// golden tests validate against the official schemas.
func TestSchemasAreTheShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "..", "shared", "schemas", "cloudformation")
	official, err := filepath.Glob(filepath.Join(shared, "*.json"))
	if err != nil || len(official) == 0 {
		t.Skipf("no shared schemas at %s", shared)
	}
	copies, err := filepath.Glob(filepath.Join("testdata", "schemas", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != len(official) {
		t.Errorf("testdata/schemas holds %d schemas, %s %d", len(copies), shared, len(official))
	}
	for _, f := range official {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata", "schemas", filepath.Base(f)))
		if err != nil {
			t.Errorf("%s is not copied: %v", filepath.Base(f), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/schemas/%s differs from %s", filepath.Base(f), f)
		}
	}
}
