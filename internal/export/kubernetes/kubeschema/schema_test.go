package kubeschema

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadShared(t *testing.T) *Schemas {
	t.Helper()
	dir, err := SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadsEveryKind(t *testing.T) {
	got := strings.Join(loadShared(t).Kinds(), "; ")
	want := "apps/v1 Deployment; autoscaling/v2 HorizontalPodAutoscaler; networking.k8s.io/v1 Ingress; " +
		"serving.knative.dev/v1 Service; v1 ConfigMap; v1 Secret; v1 Service"
	if got != want {
		t.Errorf("kinds:\n got %s\nwant %s", got, want)
	}
}

const validDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
  labels: {app.kubernetes.io/name: app}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: app}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app.kubernetes.io/name: app}}
    spec:
      containers:
        - name: app
          image: example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000
          ports: [{containerPort: 8000, name: http}]
          resources: {limits: {cpu: 250m, memory: 512Mi}, requests: {cpu: 0.25, memory: 536870912}}
          readinessProbe: {httpGet: {path: /healthy, port: http}}
`

const validKnative = `
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: dev
  namespace: app
  labels: {app.kubernetes.io/name: app}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "0"}
    spec:
      containerConcurrency: 1
      timeoutSeconds: 30
      containers:
        - image: example/app:1
          ports: [{containerPort: 8000}]
          readinessProbe: {httpGet: {path: /healthy, port: 8000}}
          resources: {limits: {memory: 512Mi}}
`

func TestValidDocuments(t *testing.T) {
	s := loadShared(t)
	for name, doc := range map[string]string{
		"deployment": validDeployment,
		"knative":    validKnative,
		"configmap":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: env}\ndata: {A: b}\n",
		"two docs":   "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: env}\n",
	} {
		problems, err := s.ValidateYAML([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(problems) > 0 {
			t.Errorf("%s: valid document has problems:\n%s", name, strings.Join(problems, "\n"))
		}
	}
}

// TestBrokenDocuments breaks valid documents one way each; the validator
// must say where and what.
func TestBrokenDocuments(t *testing.T) {
	s := loadShared(t)
	tests := []struct {
		name, doc, old, new, want string
	}{
		{"unknown field in a strict schema", validDeployment, "  selector:", "  replica: 2\n  selector:",
			"/spec: property replica is not allowed"},
		{"wrong type", validDeployment, "  selector:", "  replicas: \"2\"\n  selector:",
			`/spec/replicas: "2" is not of type integer`},
		{"required field missing", validDeployment, "        - name: app\n          image:", "        - image:",
			"/spec/template/spec/containers/0: required property name is missing"},
		{"wrong apiVersion", validDeployment, "apiVersion: apps/v1", "apiVersion: apps/v1beta1",
			`no schema for "apps/v1beta1 Deployment"`},
		{"int-or-string given a bool", validDeployment, "maxUnavailable: 0", "maxUnavailable: false",
			"/spec/strategy/rollingUpdate/maxUnavailable: false matches 0 of the allowed forms"},
		{"quantity given a list", validDeployment, "cpu: 250m", "cpu: [250m]",
			"/spec/template/spec/containers/0/resources/limits/cpu"},
		{"int32 out of range", validDeployment, "containerPort: 8000", "containerPort: 80000000000",
			"/spec/template/spec/containers/0/ports/0/containerPort: 8e+10 is out of the int32 range"},
		{"crd: undeclared field", validKnative, "      containerConcurrency: 1", "      containerConcurency: 1",
			"/spec/template/spec: property containerConcurency is not in the schema"},
		{"crd: wrong type", validKnative, "timeoutSeconds: 30", "timeoutSeconds: 30s",
			`/spec/template/spec/timeoutSeconds: "30s" is not of type integer`},
		{"crd: int-or-string", validKnative, "port: 8000", "port: true",
			"/spec/template/spec/containers/0/readinessProbe/httpGet/port: true is neither an integer nor a string"},
		{"crd: quantity pattern", validKnative, "memory: 512Mi", "memory: 512MB",
			`/spec/template/spec/containers/0/resources/limits/memory: "512MB" does not match`},
		{"crd: annotation not a string", validKnative, `min-scale: "0"`, "min-scale: 0",
			"/spec/template/metadata/annotations/autoscaling.knative.dev/min-scale: 0 is not of type string"},
		{"crd: metadata checked as ObjectMeta", validKnative, "  name: dev", "  name: dev\n  label: {a: b}",
			"/metadata: property label is not allowed"},
		{"crd: required containers", validKnative, "      containers:", "      bogus:",
			"/spec/template/spec: required property containers is missing"},
		{"unknown kind", validDeployment, "kind: Deployment", "kind: Deploy",
			`no schema for "apps/v1 Deploy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.doc, tt.old) {
				t.Fatalf("test is broken: %q is not in the document", tt.old)
			}
			doc := strings.Replace(tt.doc, tt.old, tt.new, 1)
			problems, err := s.ValidateYAML([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(problems, "\n")
			if !strings.Contains(all, tt.want) {
				t.Errorf("problems do not mention %q:\n%s", tt.want, all)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("thing-v1.json", `{"x-kubernetes-group-version-kind": [{"group": "ex.com", "kind": "Thing", "version": "v1"}],
		"type": "object", "additionalProperties": false,
		"properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
			"spec": {"$ref": "#/definitions/spec"}, "mode": {"type": "string", "enum": ["a", "b"]}, "other": {"$ref": "defs.json#/definitions/count"}},
		"definitions": {"spec": {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer"}}}}}`)
	write("defs.json", `{"x-kubernetes-group-version-kind": [{"group": "ex.com", "kind": "Defs", "version": "v1"}],
		"definitions": {"count": {"type": "integer", "minimum": 1}}}`)
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"apiVersion": "ex.com/v1", "kind": "Thing", "spec": map[string]any{}, "mode": "c", "other": 0.0}
	got := strings.Join(s.Validate(doc), "\n")
	for _, want := range []string{"/spec: required property size is missing", "/other: 0 is less than the minimum 1", `/mode: "c" is not one of ["a","b"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not mention %q:\n%s", want, got)
		}
	}
	doc = map[string]any{"apiVersion": "ex.com/v1", "kind": "Thing", "spec": map[string]any{"size": 2.0}, "other": 1.0}
	if p := s.Validate(doc); len(p) > 0 {
		t.Errorf("valid document has problems: %v", p)
	}
}

// TestSchemasAreTheShared: testdata/schemas are byte-for-byte copies of
// the official schemas in ../shared/schemas/kubernetes (kept in the repo
// so a checkout without that directory tests the same way).
func TestSchemasAreTheShared(t *testing.T) {
	official, ok := OfficialDir()
	if !ok {
		t.Skip("no shared schema directory beside the module")
	}
	copies, err := SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadDir(official)
	got, _ := os.ReadDir(copies)
	if len(want) != len(got) {
		t.Fatalf("testdata/schemas holds %d files, %s %d", len(got), official, len(want))
	}
	for _, e := range want {
		a, err := os.ReadFile(filepath.Join(official, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(copies, e.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("testdata/schemas/%s differs from the official one (%v)", e.Name(), err)
		}
	}
}
