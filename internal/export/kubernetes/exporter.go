package kubernetes

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

// Format is the exporter's name, as `slipway export --format` takes it.
const Format = "kubernetes"

// Exporter writes Kubernetes manifests. It has no state.
type Exporter struct{}

var _ export.Exporter = Exporter{}

// New returns the Kubernetes exporter.
func New() export.Exporter { return Exporter{} }

// Name is "kubernetes".
func (Exporter) Name() string { return Format }

// notesFile is the file that lists what has no Kubernetes equivalent.
const notesFile = "NOTES.md"

// Export writes <stage>.yaml (and <stage>.secrets.yaml when the stage has
// secrets) for every stage asked for, then NOTES.md. A stage file's
// Warnings are what of the stage the manifests do not carry over (its
// endpoint's gaps and its notes); NOTES.md's are the losses common to
// stages (freeze, TLS certificates, ...).
func (Exporter) Export(s export.Stack, opts export.Options) ([]export.File, error) {
	if err := check(s); err != nil {
		return nil, err
	}
	domain := s.Domain
	if domain == "" {
		domain = defaultDomain
	}
	n := &notes{}
	stackNotes(n, s)
	var files []export.File
	for _, st := range s.Stages {
		b := &builder{stack: s.Spec, stage: st, domain: domain, opts: opts, notes: n.stage(st.Spec.Name)}
		stageSpecNotes(b.notes, st)
		main, secrets, err := b.build()
		if err != nil {
			return nil, fmt.Errorf("export stage %s: %w", st.Spec.Name, err)
		}
		files = append(files, export.File{Name: st.Spec.Name + ".yaml", Data: main, Warnings: b.notes.warnings()})
		if secrets != nil {
			files = append(files, export.File{Name: st.Spec.Name + ".secrets.yaml", Data: secrets})
		}
	}
	files = append(files, export.File{Name: notesFile, Data: n.render(s), Warnings: n.lost})
	return files, nil
}

// defaultDomain is slipway's own default (`slipway server --domain`).
const defaultDomain = "localhost"

// hostRE is what an Ingress accepts as a host: a lower-case DNS name.
var hostRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// check refuses a stack that could not make valid manifests, saying what
// is allowed; slipway's own validation makes these unreachable from a
// stored stack, but the exporter does not rely on it.
func check(s export.Stack) error {
	if err := core.ValidateStackName(s.Spec.Name); err != nil {
		return err
	}
	if len(s.Stages) == 0 {
		return core.Errorf(core.CodeInvalid, "stack %s: no stages to export; pass at least one stage", s.Spec.Name)
	}
	if s.Spec.Architecture != core.ArchContainer && s.Spec.Architecture != core.ArchServerless {
		return core.Errorf(core.CodeInvalid, "stack %s: architecture %q cannot be exported; allowed: container, serverless", s.Spec.Name, s.Spec.Architecture)
	}
	if s.Spec.Port < 1 || s.Spec.Port > 65535 {
		return core.Errorf(core.CodeInvalid, "stack %s: port %d is out of range; allowed: 1-65535", s.Spec.Name, s.Spec.Port)
	}
	if s.Domain != "" && !hostRE.MatchString(s.Domain) {
		return core.Errorf(core.CodeInvalid, "domain %q is not a DNS name an Ingress accepts; use lower-case letters, digits, '-' and '.'", s.Domain)
	}
	var seen []string
	for _, st := range s.Stages {
		name := st.Spec.Name
		if err := core.ValidateStageName(name); err != nil {
			return err
		}
		if slices.Contains(seen, name) {
			return core.Errorf(core.CodeInvalid, "stage %s is listed twice; export each stage once", name)
		}
		seen = append(seen, name)
		for _, d := range st.Domains {
			if !hostRE.MatchString(d) {
				return core.Errorf(core.CodeInvalid, "stage %s: custom domain %q is not a DNS name an Ingress accepts; use lower-case letters, digits, '-' and '.'", name, d)
			}
		}
		for k := range st.Env {
			if !envNameRE.MatchString(k) {
				return core.Errorf(core.CodeInvalid, "stage %s: env name %q cannot be a container's variable; use letters, digits and '_', not starting with a digit", name, k)
			}
		}
		for k := range st.Secrets {
			if !envNameRE.MatchString(k) {
				return core.Errorf(core.CodeInvalid, "stage %s: secret name %q cannot be a container's variable; use letters, digits and '_', not starting with a digit", name, k)
			}
		}
	}
	return nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Names of a stage's objects in its stack's namespace. The workload, its
// Service, HPA and Ingress (or Knative Service) share the stage's name.
func configMapName(stage string) string { return stage + "-env" }
func secretName(stage string) string    { return stage + "-secrets" }

// labels are the recommended app.kubernetes.io labels of a stage's
// objects; selectorLabels the subset a Deployment and Service select on.
func labels(stack, stage string) map[string]string {
	l := selectorLabels(stack, stage)
	l["app.kubernetes.io/managed-by"] = "slipway"
	l["app.kubernetes.io/part-of"] = stack
	l["slipway.dev/stage"] = stage
	return l
}

func selectorLabels(stack, stage string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     stack,
		"app.kubernetes.io/instance": stack + "-" + stage,
	}
}

// hosts are the hosts a stage answers at: <stage>.<stack>.<domain> first,
// then its custom domains, sorted, without repeats.
func hosts(stack, stage, domain string, custom []string) []string {
	out := []string{core.Hostname(stack, stage, domain)}
	extra := slices.Clone(custom)
	slices.Sort(extra)
	for _, d := range slices.Compact(extra) {
		if !slices.Contains(out, strings.ToLower(d)) {
			out = append(out, strings.ToLower(d))
		}
	}
	return out
}
