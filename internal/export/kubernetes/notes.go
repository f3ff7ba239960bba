package kubernetes

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

// notes collects what the user must know or do, for NOTES.md: general
// notes once, then per stage its endpoint gaps and its own notes.
type notes struct {
	general []string
	// lost are the general notes that say something is not carried over
	// (added by stages with once), for NOTES.md's warnings.
	lost   []string
	seen   map[string]bool
	stages []*stageNotes
}

// stageNotes are one stage's notes.
type stageNotes struct {
	parent *notes
	name   string
	lines  []string
	gaps   []gap
}

func (n *notes) stage(name string) *stageNotes {
	s := &stageNotes{parent: n, name: name}
	n.stages = append(n.stages, s)
	return s
}

func (n *notes) addGeneral(format string, args ...any) {
	n.general = append(n.general, fmt.Sprintf(format, args...))
}

func (s *stageNotes) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if !slices.Contains(s.lines, line) {
		s.lines = append(s.lines, line)
	}
}

// once adds a general note the first time any stage asks for it; lost
// says it tells of something not carried over (a warning too).
func (s *stageNotes) once(key, text string, lost bool) {
	if s.parent.seen == nil {
		s.parent.seen = map[string]bool{}
	}
	if !s.parent.seen[key] {
		s.parent.seen[key] = true
		s.parent.general = append(s.parent.general, text)
		if lost {
			s.parent.lost = append(s.parent.lost, text)
		}
	}
}

// warnings are the stage's gaps and notes, one line each, for the CLI.
func (s *stageNotes) warnings() []string {
	var out []string
	for _, g := range s.gaps {
		out = append(out, "endpoint "+g.setting+": no core Kubernetes equivalent (see NOTES.md)")
	}
	return append(out, s.lines...)
}

func (s *stageNotes) gap(g gap) {
	if !slices.Contains(s.gaps, g) {
		s.gaps = append(s.gaps, g)
	}
}

// stackNotes are the notes that follow from the stack as a whole.
func stackNotes(n *notes, s export.Stack) {
	name := s.Spec.Name
	n.addGeneral("Every object is in the namespace `%s` (one per stack). Create it first: `kubectl create namespace %s`; then `kubectl apply -f .` in this directory.", name, name)
	if s.Spec.Architecture == core.ArchServerless {
		n.addGeneral("Serverless stages are Knative Services: the cluster needs Knative Serving. With its domain set to the gateway's (`kubectl -n knative-serving patch configmap config-domain --type merge -p '{\"data\":{\"%s\":\"\"}}'`) and the default domain template, each stage answers at <stage>.%s.%s, as on slipway.", domainOr(s.Domain), name, domainOr(s.Domain))
	} else {
		n.addGeneral("Container stages need an Ingress controller (the Ingresses name no class: the cluster's default class serves them) and the metrics API (metrics-server) for the HorizontalPodAutoscalers.")
	}
	for _, st := range s.Stages {
		if localImage(st.Image) {
			n.addGeneral("Images are references to slipway's embedded registry (%s), which a cluster cannot pull from: push them to a registry the cluster can reach and change `image:` (or use `kustomize edit set image`).", registryHost(st.Image))
			break
		}
	}
	n.addGeneral("Containers run as non-root (`runAsNonRoot: true`), which Kubernetes checks against the image's USER: it must be a numeric uid other than 0 (the starter's `USER 65534:65534` is). For an image that must run as root, remove `runAsNonRoot` from its securityContext.")
	n.addGeneral("The root filesystem is writable, as under slipway. If the app writes nowhere (or only to a mounted emptyDir), set `readOnlyRootFilesystem: true`.")
	n.addGeneral("The build pipeline (build.yml, release.yml, promotion between stages) is not exported: these manifests deploy one image per stage; run them from your CD tool.")
	if len(s.BuildVars) > 0 {
		n.addGeneral("Build variables (%s) belong to the build pipeline and are not exported.", strings.Join(slices.Sorted(maps.Keys(s.BuildVars)), ", "))
	}
}

func domainOr(d string) string {
	if d == "" {
		return defaultDomain
	}
	return d
}

// stageSpecNotes are the notes that follow from one stage's settings
// outside its workload: approvals, networks, alarms.
func stageSpecNotes(sn *stageNotes, st export.Stage) {
	if st.Spec.Approval {
		sn.add("Releases to this stage wait for `slipway approve`; approvals are a pipeline step, not exported.")
	}
	if !st.Spec.Network.EgressAllowed() {
		sn.add("`network.egress: false` is not exported (the shared schemas have no NetworkPolicy to validate it against): add a NetworkPolicy with `policyTypes: [Egress]` and no egress rules for the stage's pods to keep them from reaching out.")
	}
	if st.Spec.Network.Attach != "" {
		sn.add("`network.attach: %s` (a Docker network) has no Kubernetes equivalent: pods share the cluster network.", st.Spec.Network.Attach)
	}
	for _, a := range st.Alarms {
		sn.add("Alarm %s is not exported: %s. Prometheus alerting rules (e.g. a PrometheusRule of the Prometheus Operator) are the Kubernetes way.", a.Name, describeAlarm(a))
	}
}

func describeAlarm(a core.Alarm) string {
	if a.Kind != core.AlarmMetric {
		return "built-in " + string(a.Kind)
	}
	return fmt.Sprintf("%s %s %g for %d × %s", a.Metric, a.Comparison, a.Threshold, a.For, short(a.Period.D()))
}

// render writes NOTES.md.
func (n *notes) render(s export.Stack) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s on Kubernetes\n\n", s.Spec.Name)
	fmt.Fprintf(&b, "Exported by slipway: one file per stage (`<stage>.yaml`, and `<stage>.secrets.yaml` for its Secret), for Kubernetes 1.32")
	if s.Spec.Architecture == core.ArchServerless {
		b.WriteString(" with Knative Serving")
	}
	b.WriteString(".\n\n## Before applying\n\n")
	for _, line := range n.general {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	var gaps, other bytes.Buffer
	for _, st := range n.stages {
		if len(st.gaps) > 0 {
			fmt.Fprintf(&gaps, "\n### %s\n\n", st.name)
			for _, g := range st.gaps {
				fmt.Fprintf(&gaps, "- `%s` — %s\n", g.setting, g.mapping)
			}
		}
		if len(st.lines) > 0 {
			fmt.Fprintf(&other, "\n### %s\n\n", st.name)
			for _, line := range st.lines {
				fmt.Fprintf(&other, "- %s\n", line)
			}
		}
	}
	if gaps.Len() > 0 {
		b.WriteString("\n## Endpoint settings with no core Kubernetes equivalent\n\n")
		b.WriteString("Slipway applies these at its gateway or balancer. The manifests do not; each is listed with where to get it on a cluster.\n")
		b.Write(gaps.Bytes())
	}
	if other.Len() > 0 {
		b.WriteString("\n## Per stage\n")
		b.Write(other.Bytes())
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// localImage reports whether an image lives in a registry on this machine,
// as slipway's embedded registry does.
func localImage(image string) bool {
	host := registryHost(image)
	return host == "localhost" || strings.HasPrefix(host, "localhost:") || strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "[::1]")
}

// registryHost is the registry part of an image reference ("" for a
// Docker Hub name, whose first part has no '.' or ':' and is not localhost).
func registryHost(image string) string {
	first, _, found := strings.Cut(image, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return ""
	}
	return first
}
