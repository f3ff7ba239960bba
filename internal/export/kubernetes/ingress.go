package kubernetes

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/core"
)

// endpointAnnotation records the stage's endpoint kind on its Ingress or
// Knative Service; it changes nothing in a cluster.
const endpointAnnotation = "slipway.dev/endpoint"

// ingress routes the stage's hosts to its Service, and the paths of its
// simple routes (to a stage of the same stack, without strip) to theirs.
// It names no IngressClass: the cluster's default class serves it.
func (b *builder) ingress() document {
	paths := b.routePaths()
	paths = append(paths, backendPath("/", b.name()))
	var rules []networkingv1.IngressRule
	for _, h := range hosts(b.stack.Name, b.name(), b.domain, b.stage.Domains) {
		rules = append(rules, networkingv1.IngressRule{
			Host:             h,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
		})
	}
	ep := b.stage.Spec.EffectiveEndpoint()
	meta := b.meta(b.name())
	meta.Annotations = map[string]string{endpointAnnotation: ep.Kind}
	in := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec:       networkingv1.IngressSpec{Rules: rules},
	}
	if len(b.stage.Domains) > 0 {
		b.notes.once("tls", "Custom domains are served over plain HTTP by the Ingress: slipway's ACME certificates are not exported. Add `spec.tls` with a certificate Secret (cert-manager can issue it).", true)
	}
	return document{comments: b.endpointComments(ep), object: in}
}

func backendPath(path, service string) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{
		Path:     path,
		PathType: ptr(networkingv1.PathTypePrefix),
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: service,
			Port: networkingv1.ServiceBackendPort{Name: portName},
		}},
	}
}

// routePaths are the Ingress paths of the stage's routes that an Ingress
// can express; the others are noted. A Prefix path matches whole
// segments (/api: /api and /api/x, not /apix), as slipway's routes do.
func (b *builder) routePaths() []networkingv1.HTTPIngressPath {
	var out []networkingv1.HTTPIngressPath
	for _, r := range b.stage.Spec.Routes {
		target := r.Stage
		if r.Stack != "" && r.Stack != b.stack.Name {
			target = r.Stack + "/" + r.Stage
		}
		switch {
		case r.Stack != "" && r.Stack != b.stack.Name:
			b.notes.add("Route %s → %s is not exported: an Ingress cannot send to a Service of another namespace (stack). Route it in that stack's Ingress on this host, or use the Gateway API with a ReferenceGrant.", r.Path, target)
		case r.Strip:
			b.notes.add("Route %s → %s is not exported: it strips the prefix, which core Ingress cannot do (ingress controllers have their own rewrite settings).", r.Path, target)
		case r.Path == "/":
			b.notes.add("Route / → %s is not exported: it would replace the stage's own backend.", target)
		default:
			out = append(out, backendPath(r.Path, r.Stage))
			if _, ok := b.stack.Stage(r.Stage); !ok {
				b.notes.add("Route %s → %s points to a stage that is not in slipway.yml.", r.Path, target)
			}
		}
	}
	return out
}

// endpointComments say, above the Ingress or Knative Service, what of the
// endpoint has no core Kubernetes equivalent; the same go to NOTES.md.
func (b *builder) endpointComments(ep core.EndpointSpec) []string {
	gaps := endpointGaps(ep, b.stack.Architecture == core.ArchServerless)
	if len(gaps) == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("Endpoint %s: not expressible in core Kubernetes, not applied here (see NOTES.md):", ep.Kind)}
	for _, g := range gaps {
		out = append(out, "- "+g.setting)
		b.notes.gap(g)
	}
	return out
}
