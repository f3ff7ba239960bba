package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/export/kubernetes/kubeschema"
	"github.com/slipwayhq/slipway/internal/manifest"
)

// object is one decoded document.
type object = map[string]any

// get follows keys and indexes through a decoded document.
func get(x any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := x.(map[string]any)
			x = m[k]
		case int:
			l, _ := x.([]any)
			if k >= len(l) {
				return nil
			}
			x = l[k]
		}
	}
	return x
}

func decodeAll(t *testing.T, files []export.File) []object {
	t.Helper()
	var out []object
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".yaml") {
			continue
		}
		for _, d := range kubeschema.SplitDocuments(f.Data) {
			var o object
			if err := yaml.Unmarshal(d, &o); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			if o != nil {
				out = append(out, o)
			}
		}
	}
	return out
}

// references checks what the schemas cannot: that the objects of an
// export name each other correctly. An HPA scales a Deployment of the
// export; a Deployment's selector matches its pods; a Service selects a
// workload's pods and targets a port its containers name; an Ingress
// sends to a Service and port of the export; env comes from a ConfigMap
// of the export and from keys a Secret of the export holds (or lists,
// without values). Names are compared within the namespace.
func references(objs []object) []string {
	var problems []string
	bad := func(o object, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s %s: %s", get(o, "kind"), get(o, "metadata", "name"), fmt.Sprintf(format, args...)))
	}
	find := func(kind, ns, name string) object {
		for _, o := range objs {
			if get(o, "kind") == kind && get(o, "metadata", "namespace") == ns && get(o, "metadata", "name") == name {
				return o
			}
		}
		return nil
	}
	matches := func(selector, labels any) bool {
		sel, _ := selector.(map[string]any)
		l, _ := labels.(map[string]any)
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if l[k] != v {
				return false
			}
		}
		return true
	}
	// podSpecs are the pod templates: a Deployment's or a Knative
	// Service's revision template.
	type pod struct {
		owner  object
		labels any
		spec   any
	}
	var pods []pod
	for _, o := range objs {
		switch get(o, "kind") {
		case "Deployment":
			pods = append(pods, pod{o, get(o, "spec", "template", "metadata", "labels"), get(o, "spec", "template", "spec")})
			if !matches(get(o, "spec", "selector", "matchLabels"), get(o, "spec", "template", "metadata", "labels")) {
				bad(o, "its selector does not match its pods' labels")
			}
		case "Service":
			if get(o, "apiVersion") == "serving.knative.dev/v1" {
				pods = append(pods, pod{o, get(o, "spec", "template", "metadata", "labels"), get(o, "spec", "template", "spec")})
			}
		}
	}
	ns := func(o object) string { s, _ := get(o, "metadata", "namespace").(string); return s }
	str := func(x any) string { s, _ := x.(string); return s }
	for _, o := range objs {
		switch get(o, "kind") {
		case "HorizontalPodAutoscaler":
			ref := get(o, "spec", "scaleTargetRef")
			if get(ref, "kind") != "Deployment" || find("Deployment", ns(o), str(get(ref, "name"))) == nil {
				bad(o, "scales %v, not a Deployment of the export", ref)
			}
		case "Service":
			if get(o, "apiVersion") == "serving.knative.dev/v1" {
				continue
			}
			var selected []pod
			for _, p := range pods {
				if ns(p.owner) == ns(o) && matches(get(o, "spec", "selector"), p.labels) {
					selected = append(selected, p)
				}
			}
			if len(selected) == 0 {
				bad(o, "selects no pods of the export")
			}
			ports, _ := get(o, "spec", "ports").([]any)
			for _, sp := range ports {
				target, isName := get(sp, "targetPort").(string)
				if !isName {
					continue
				}
				for _, p := range selected {
					found := false
					for i := 0; get(p.spec, "containers", i) != nil; i++ {
						for j := 0; get(p.spec, "containers", i, "ports", j) != nil; j++ {
							found = found || get(p.spec, "containers", i, "ports", j, "name") == target
						}
					}
					if !found {
						bad(o, "targets port %q, which the pods of %s do not name", target, get(p.owner, "metadata", "name"))
					}
				}
			}
		case "Ingress":
			rules, _ := get(o, "spec", "rules").([]any)
			for _, r := range rules {
				paths, _ := get(r, "http", "paths").([]any)
				for _, p := range paths {
					name := str(get(p, "backend", "service", "name"))
					port := get(p, "backend", "service", "port", "name")
					svc := find("Service", ns(o), name)
					if svc == nil {
						bad(o, "path %v sends to Service %q, not in the export", get(p, "path"), name)
						continue
					}
					named := false
					ports, _ := get(svc, "spec", "ports").([]any)
					for _, sp := range ports {
						named = named || get(sp, "name") == port
					}
					if !named {
						bad(o, "path %v sends to port %v, which Service %s does not name", get(p, "path"), port, name)
					}
				}
			}
		}
	}
	for _, p := range pods {
		for i := 0; get(p.spec, "containers", i) != nil; i++ {
			c := get(p.spec, "containers", i)
			for j := 0; get(c, "envFrom", j) != nil; j++ {
				if name := str(get(c, "envFrom", j, "configMapRef", "name")); name != "" && find("ConfigMap", ns(p.owner), name) == nil {
					bad(p.owner, "reads ConfigMap %q, not in the export", name)
				}
			}
			for j := 0; get(c, "env", j) != nil; j++ {
				ref := get(c, "env", j, "valueFrom", "secretKeyRef")
				if ref == nil {
					continue
				}
				name, key := str(get(ref, "name")), str(get(ref, "key"))
				s := find("Secret", ns(p.owner), name)
				if s == nil {
					bad(p.owner, "reads Secret %q, not in the export", name)
					continue
				}
				data, _ := get(s, "stringData").(map[string]any)
				_, valued := data[key]
				listed := slices.Contains(strings.Split(str(get(s, "metadata", "annotations", secretKeysAnnotation)), ","), key)
				if !valued && !listed {
					bad(p.owner, "reads key %s of Secret %s, which neither holds nor lists it", key, name)
				}
			}
		}
	}
	return problems
}

// TestReferencesResolve: the starter in every architecture × endpoint
// and the feature stacks export objects that name each other correctly,
// with and without secret values.
func TestReferencesResolve(t *testing.T) {
	yml := starterYML(t)
	stacks := map[string]export.Stack{}
	for _, arch := range []string{"container", "serverless"} {
		for _, endpoint := range []string{"gateway", "balancer"} {
			stacks["starter-"+arch+"-"+endpoint] = starterStack(variant(t, yml, arch, endpoint))
		}
	}
	cases, _ := filepath.Glob(filepath.Join("testdata", "stacks", "*.yml"))
	for _, path := range cases {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := manifest.Parse(filepath.Base(path), data)
		if err != nil {
			t.Fatal(err)
		}
		s := export.Stack{Spec: spec}
		for _, st := range spec.Stages {
			s.Stages = append(s.Stages, export.Stage{Spec: st, Image: "registry.example.com/x:1", Env: st.Env, Secrets: map[string]string{"TOKEN": "t"}})
		}
		stacks[filepath.Base(path)] = s
	}
	for name, s := range stacks {
		for _, include := range []bool{false, true} {
			files, err := New().Export(s, export.Options{IncludeSecrets: include})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			objs := decodeAll(t, files)
			if len(objs) == 0 {
				t.Fatalf("%s: no objects", name)
			}
			for _, p := range references(objs) {
				t.Errorf("%s (secrets %v): %s", name, include, p)
			}
		}
	}
}

// TestBrokenReferencesFail breaks each kind of reference in an export
// and expects references to say so.
func TestBrokenReferencesFail(t *testing.T) {
	s := starterStack(variant(t, starterYML(t), "container", "gateway"))
	files, err := New().Export(s, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var prod []byte
	var rest []export.File
	for _, f := range files {
		if f.Name == "prod.yaml" {
			prod = f.Data
		} else {
			rest = append(rest, f)
		}
	}
	for _, c := range []struct{ old, new, want string }{
		{"    kind: Deployment\n    name: prod\n", "    kind: Deployment\n    name: prd\n", "not a Deployment of the export"},
		{"    targetPort: http\n", "    targetPort: web\n", `targets port "web"`},
		{"            name: prod\n            port:\n              name: http\n", "            name: api\n            port:\n              name: http\n", `sends to Service "api"`},
		{"            port:\n              name: http\n", "            port:\n              name: https\n", "sends to port https"},
		{"            name: prod-env\n", "            name: prod-environment\n", `reads ConfigMap "prod-environment"`},
		{"              key: API_TOKEN\n", "              key: API_KEY\n", "reads key API_KEY of Secret prod-secrets"},
		{"              name: prod-secrets\n", "              name: prod-secret\n", `reads Secret "prod-secret"`},
		{"    matchLabels:\n      app.kubernetes.io/instance: shop-prod\n", "    matchLabels:\n      app.kubernetes.io/instance: shop-dev\n", "its selector does not match"},
		{"  selector:\n    app.kubernetes.io/instance: shop-prod\n", "  selector:\n    app.kubernetes.io/instance: shop-qa\n", "selects no pods of the export"},
	} {
		if !strings.Contains(string(prod), c.old) {
			t.Fatalf("test is stale: %q is not in prod.yaml:\n%s", c.old, prod)
		}
		broken := append(slices.Clone(rest), export.File{Name: "prod.yaml", Data: []byte(strings.Replace(string(prod), c.old, c.new, 1))})
		if all := strings.Join(references(decodeAll(t, broken)), "\n"); !strings.Contains(all, c.want) {
			t.Errorf("breaking %q: problems do not mention %q:\n%s", c.old, c.want, all)
		}
	}
}
