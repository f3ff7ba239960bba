package kubernetes

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/slipwayhq/slipway/internal/core"
)

// The Knative Service types, by hand: importing knative.dev/serving would
// add 17 MB and client-go for four structs. Only the fields the exporter
// sets are here; the Knative CRD's schema checks them in tests. A
// revision's containers are core/v1 Containers, as Knative's are.

// knativeService is a serving.knative.dev/v1 Service.
type knativeService struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta  `json:"metadata"`
	Spec            knativeServiceSpec `json:"spec"`
}

// knativeServiceSpec is the Service's spec: the revision template (the
// route defaults to all traffic on the latest revision).
type knativeServiceSpec struct {
	Template knativeRevisionTemplate `json:"template"`
}

type knativeRevisionTemplate struct {
	Metadata metav1.ObjectMeta   `json:"metadata"`
	Spec     knativeRevisionSpec `json:"spec"`
}

// knativeRevisionSpec is a pod spec's subset plus Knative's own fields.
type knativeRevisionSpec struct {
	// ContainerConcurrency is the hard limit of requests in flight per
	// pod; 0 means unlimited.
	ContainerConcurrency         *int64             `json:"containerConcurrency,omitempty"`
	TimeoutSeconds               *int64             `json:"timeoutSeconds,omitempty"`
	Containers                   []corev1.Container `json:"containers"`
	AutomountServiceAccountToken *bool              `json:"automountServiceAccountToken,omitempty"`
	EnableServiceLinks           *bool              `json:"enableServiceLinks,omitempty"`
}

// Knative's autoscaling annotations, on the revision template.
const (
	annotationMinScale  = "autoscaling.knative.dev/min-scale"
	annotationMaxScale  = "autoscaling.knative.dev/max-scale"
	annotationTarget    = "autoscaling.knative.dev/target"
	annotationMetric    = "autoscaling.knative.dev/metric"
	annotationRetention = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
)

// knativeService runs a serverless stage: scale to zero (or min_instances
// kept warm) up to max_instances, concurrency requests per instance as
// both the autoscaler's target and the hard limit, the per-request
// timeout, and memory with CPU in proportion, as on Lambda.
func (b *builder) knativeService() document {
	sv := b.stage.Spec.EffectiveServerless()
	cpu := sv.CPU()
	ep := b.stage.Spec.EffectiveEndpoint()
	container := corev1.Container{
		Name:  b.stack.Name,
		Image: b.image(),
		// Knative sets PORT to the container port itself and refuses an
		// env PORT, so it is not in env here.
		Ports:     []corev1.ContainerPort{{ContainerPort: int32(b.stack.Port)}},
		Env:       b.env(false),
		EnvFrom:   b.envFrom(),
		Resources: resources(cpu, sv.MemoryMB),
		// Knative probes the serving port; naming it is allowed, no other.
		ReadinessProbe:  &corev1.Probe{ProbeHandler: b.handler(b.stage.Spec.EffectiveScale(), intstr.FromInt32(int32(b.stack.Port)))},
		SecurityContext: securityContext(),
	}
	meta := b.meta(b.name())
	meta.Annotations = map[string]string{endpointAnnotation: ep.Kind}
	ks := &knativeService{
		TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		Metadata: meta,
		Spec: knativeServiceSpec{Template: knativeRevisionTemplate{
			Metadata: metav1.ObjectMeta{
				Labels: labels(b.stack.Name, b.name()),
				Annotations: map[string]string{
					annotationMinScale:  strconv.Itoa(sv.MinInstances),
					annotationMaxScale:  strconv.Itoa(sv.MaxInstances),
					annotationTarget:    strconv.Itoa(sv.Concurrency),
					annotationMetric:    "concurrency",
					annotationRetention: fmt.Sprintf("%ds", seconds(sv.Idle.D(), 0)),
					envHashAnnotation:   b.envHash(),
				},
			},
			Spec: knativeRevisionSpec{
				ContainerConcurrency:         ptr(int64(sv.Concurrency)),
				TimeoutSeconds:               ptr(int64(seconds(sv.Timeout.D(), 1))),
				Containers:                   []corev1.Container{container},
				AutomountServiceAccountToken: ptr(false),
				EnableServiceLinks:           ptr(false),
			},
		}},
	}
	b.serverlessNotes(sv)
	comments := []string{fmt.Sprintf("%s: %d MB and %s vCPU per instance (1 vCPU per %d MB, as on Lambda), %d request(s) at a time, %s timeout, %d-%d instances.",
		b.name(), sv.MemoryMB, strconv.FormatFloat(math.Ceil(cpu*1000)/1000, 'f', -1, 64), core.MBPerVCPU, sv.Concurrency, short(sv.Timeout.D()), sv.MinInstances, sv.MaxInstances)}
	comments = append(comments, b.endpointComments(ep)...)
	return document{comments: comments, object: ks}
}

// knativeMaxTimeout is Knative's default max-revision-timeout-seconds.
const knativeMaxTimeout = 600 * time.Second

// serverlessNotes note what of the serverless spec Knative does not do.
func (b *builder) serverlessNotes(sv core.ServerlessSpec) {
	if sv.Handler == core.HandlerLambda {
		b.notes.add("The handler is `lambda`: the image speaks the Lambda Runtime API, not HTTP, and Knative sends it HTTP requests. Add an HTTP adapter to the image (e.g. the AWS Lambda Web Adapter or the Runtime Interface Emulator) or keep this stage on slipway.")
	}
	if sv.Freeze {
		b.notes.once("freeze", "`freeze` (pausing idle instances between requests) has no Knative equivalent: idle pods keep running until scaled down after the retention period.", true)
	}
	if sv.Timeout.D() > knativeMaxTimeout {
		b.notes.add("The timeout %s is above Knative's default maximum of %s: raise `max-revision-timeout-seconds` in the knative-serving/config-defaults ConfigMap (and the ingress layer's timeouts) or Knative refuses the Service.", short(sv.Timeout.D()), short(knativeMaxTimeout))
	}
	b.notes.once("idle", "`idle` is Knative's scale-to-zero-pod-retention-period, which keeps the last pod; other idle pods go after Knative's stable window (60 s by default, the `autoscaling.knative.dev/window` annotation).", false)
	b.notes.once("queue", "`queue` and `queue_timeout` have no per-service Knative setting: Knative's activator buffers requests while pods start (its queue limits are cluster-wide).", true)
	for _, s := range sv.Schedules {
		target := s.Path
		if target == "" {
			target = "(an EventBridge scheduled event)"
		}
		b.notes.add("Schedule `%s` → %s is not exported: Knative Eventing's PingSource (cron syntax, not rate()/cron() of EventBridge) or a CronJob can call the service's URL.", s.Expression, target)
	}
	if len(b.stage.Domains) > 0 {
		custom := hosts(b.stack.Name, b.name(), b.domain, b.stage.Domains)[1:]
		b.notes.add("Custom domains %s are not exported: map each with a Knative DomainMapping (serving.knative.dev/v1beta1) to the Service `%s`, and give it a certificate.", strings.Join(custom, ", "), b.name())
	}
	if len(b.stage.Spec.Routes) > 0 {
		b.notes.add("Routes are not exported: a Knative Service has no path routing; route paths in front of Knative (an Ingress or Gateway API HTTPRoute to the Knative ingress).")
	}
}
