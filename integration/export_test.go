package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/export/cloudformation/lint"
	"github.com/slipwayhq/slipway/internal/export/kubernetes/kubeschema"
)

// TestExportCloudFormation: `slipway export` writes a stack the server
// has released as CloudFormation templates that pass the provider
// schemas, with the serving image pinned by digest, the stage's env, its
// secrets by name only unless --include-secrets, and its alarms and domains; bad
// requests answer one clear error line.
func TestExportCloudFormation(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "exp", "stages:\n  - name: dev\n  - name: prod\n    endpoint: {kind: balancer}\n")
	s.mustRun(app, "deploy", "-q")
	s.mustRun(app, "env", "set", "exp", "dev", "GREETING=hello-export")
	const secret = "export-" + "s3cr3t"
	s.mustRun(app, "env", "set", "exp", "dev", "DB_PASSWORD="+secret, "--secret")
	s.mustRun(app, "alarms", "create", "exp", "dev", "--metric", "errors", "--above", "5", "--name", "many-errors")
	s.mustRun(app, "alarms", "create", "exp", "dev", "--metric", "cold_starts", "--above", "5", "--name", "cold")
	s.mustRun(app, "domain", "add", "exp", "prod", "shop.example.com")

	out := filepath.Join(t.TempDir(), "cfn")
	r := s.mustRun(app, "export", "exp", "--format", "cloudformation", "-o", out)
	if !strings.Contains(r.stdout, "Wrote 3 files of exp as cloudformation") {
		t.Fatalf("export output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "alarm cold (cold_starts) is not exported") {
		t.Errorf("the warnings are not printed:\n%s", r.stderr)
	}
	schemas, err := lint.LoadDir(filepath.Join("..", "internal", "export", "cloudformation", "testdata", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	unschemed := lint.Unschemed{"AWS::Lambda::Version": {"Version", "FunctionArn"}, "AWS::Lambda::Alias": {"AliasArn"}}
	for _, name := range []string{"exp-shared.json", "exp-dev.json", "exp-prod.json"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if problems := schemas.Check(data, unschemed); len(problems) > 0 {
			t.Errorf("%s:\n%s", name, strings.Join(problems, "\n"))
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the secret without --include-secrets", name)
		}
	}
	dev, _ := os.ReadFile(filepath.Join(out, "exp-dev.json"))
	var tmpl struct {
		Metadata struct {
			Slipway struct{ SlipwayImage string }
		}
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(dev, &tmpl); err != nil {
		t.Fatal(err)
	}
	if img := tmpl.Metadata.Slipway.SlipwayImage; !strings.Contains(img, "/exp@sha256:") {
		t.Errorf("the dev template's image is not the serving release's digest: %q", img)
	}
	for _, want := range []string{`"GREETING"`, `"hello-export"`, `"DB_PASSWORD"`, `"AWS::ApiGatewayV2::Api"`, `"AWS::CloudWatch::Alarm"`, `"exp-dev-many-errors"`} {
		if !strings.Contains(string(dev), want) {
			t.Errorf("the dev template lacks %s", want)
		}
	}
	if tmpl.Resources["LoadBalancer"].Type != "" {
		t.Error("dev (gateway) got a load balancer")
	}
	prod, _ := os.ReadFile(filepath.Join(out, "exp-prod.json"))
	if !strings.Contains(string(prod), `"AWS::ElasticLoadBalancingV2::LoadBalancer"`) {
		t.Error("prod (balancer) has no load balancer")
	}
	if !strings.Contains(string(prod), `"shop.example.com"`) || !strings.Contains(r.stderr, "custom domains (1) are not created") {
		t.Error("prod's custom domain is neither listed nor warned about")
	}

	// One stage, with the secret's value, as JSON on stdout.
	r = s.mustRun(app, "export", "exp", "--format", "cloudformation", "--stage", "dev", "--include-secrets", "-o", "-")
	var res struct {
		Files []struct{ Name, Data string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("export -o -: %v\n%s", err, r.stdout)
	}
	if len(res.Files) != 2 || res.Files[1].Name != "exp-dev.json" || !strings.Contains(res.Files[1].Data, secret) {
		t.Errorf("export --stage dev --include-secrets: %d files, %v", len(res.Files), res.Files)
	}
	if strings.Contains(s.logs.String(), secret) {
		t.Error("the server log holds the secret")
	}

	// The registry serves every exporter by name: Kubernetes too. Its
	// manifests pass the Kubernetes schemas, pin the serving image, carry
	// the env in a ConfigMap and the secret by name only unless asked.
	kube := filepath.Join(t.TempDir(), "kube")
	r = s.mustRun(app, "export", "exp", "--format", "kubernetes", "-o", kube)
	if !strings.Contains(r.stdout, "Wrote 4 files of exp as kubernetes to "+kube) {
		t.Errorf("export --format kubernetes:\n%s", r.stdout)
	}
	kdir, err := kubeschema.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	kschemas, err := kubeschema.LoadDir(kdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev.yaml", "dev.secrets.yaml", "prod.yaml"} {
		data, err := os.ReadFile(filepath.Join(kube, name))
		if err != nil {
			t.Fatal(err)
		}
		problems, err := kschemas.ValidateYAML(data)
		if err != nil || len(problems) > 0 {
			t.Errorf("%s: %v\n%s", name, err, strings.Join(problems, "\n"))
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the secret without --include-secrets", name)
		}
	}
	devYAML, _ := os.ReadFile(filepath.Join(kube, "dev.yaml"))
	for _, want := range []string{"kind: Deployment", "kind: HorizontalPodAutoscaler", "kind: Ingress", "GREETING: hello-export", "/exp@sha256:", "key: DB_PASSWORD"} {
		if !strings.Contains(string(devYAML), want) {
			t.Errorf("dev.yaml lacks %q", want)
		}
	}
	r = s.mustRun(app, "export", "exp", "--format", "kubernetes", "--stage", "dev", "--include-secrets", "-o", kube+"-secrets")
	if data, _ := os.ReadFile(filepath.Join(kube+"-secrets", "dev.secrets.yaml")); !strings.Contains(string(data), secret) {
		t.Errorf("export --include-secrets: dev.secrets.yaml lacks the value:\n%s", data)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "exp", "--format", "nomad"}, `unknown export format "nomad"; allowed: cloudformation, kubernetes`},
		{[]string{"export", "exp"}, "export needs --format"},
		{[]string{"export", "exp", "--format", "cloudformation", "--stage", "qa"}, `stack "exp" has no stage "qa"; stages: dev, prod`},
		{[]string{"export", "nope", "--format", "cloudformation"}, "nope"},
	} {
		if line := errorLine(t, s.run(app, c.args...)); !strings.Contains(line, c.want) {
			t.Errorf("slipway %s: %q, want %q", strings.Join(c.args, " "), line, c.want)
		}
	}
}
