package kubernetes

import (
	"fmt"
	"math"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/slipwayhq/slipway/internal/core"
)

// portName names the container's port; the Service and probes use it.
const portName = "http"

// servicePort is the port the stage's Service listens on.
const servicePort = 80

// deployment runs a container stage. It sets no replicas: the HPA owns
// the count (a replicas field would reset it on every apply).
func (b *builder) deployment() document {
	sc := b.stage.Spec.EffectiveScale()
	readiness, liveness, startup := b.probes(sc)
	grace := seconds(sc.StopGrace.D(), 0) + seconds(sc.Drain.D(), 0)
	container := corev1.Container{
		Name:            b.stack.Name,
		Image:           b.image(),
		Ports:           []corev1.ContainerPort{{Name: portName, ContainerPort: int32(b.stack.Port), Protocol: corev1.ProtocolTCP}},
		Env:             b.env(true),
		EnvFrom:         b.envFrom(),
		Resources:       resources(sc.CPU, sc.MemoryMB),
		ReadinessProbe:  readiness,
		LivenessProbe:   liveness,
		StartupProbe:    startup,
		SecurityContext: securityContext(),
	}
	// Slipway's drain: an instance leaves the routes, then in-flight
	// requests get Drain to finish before SIGTERM. A preStop sleep holds
	// SIGTERM while the endpoints controller takes the pod out.
	if d := seconds(sc.Drain.D(), 0); d > 0 {
		container.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: int64(d)}}}
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: b.meta(b.name()),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(b.stack.Name, b.name())},
			// Like slipway's rollouts: new instances turn healthy before
			// old ones go, so capacity never drops.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr(intstr.FromInt32(0)),
					MaxSurge:       ptr(intstr.FromString("25%")),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      labels(b.stack.Name, b.name()),
					Annotations: map[string]string{envHashAnnotation: b.envHash()},
				},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{container},
					TerminationGracePeriodSeconds: ptr(int64(grace)),
					AutomountServiceAccountToken:  ptr(false),
					EnableServiceLinks:            ptr(false),
				},
			},
		},
	}
	return document{
		comments: []string{fmt.Sprintf("%s: %g vCPU and %d MB per instance, like a Fargate task; the HorizontalPodAutoscaler sets the replicas.", b.name(), sc.CPU, sc.MemoryMB)},
		object:   d,
	}
}

// resources requests what the stage's size says and limits it there too
// (Guaranteed QoS): a Fargate task or a serverless instance gets that
// much and no more. The HPA's CPU utilization is relative to the request,
// as slipway's cpu_target is to the instance's vCPU.
func resources(cpu float64, memoryMB int) corev1.ResourceRequirements {
	list := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(math.Ceil(cpu*1000)), resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dMi", memoryMB)),
	}
	return corev1.ResourceRequirements{Requests: list, Limits: list.DeepCopy()}
}

// securityContext is every container's: no privilege escalation, no
// capabilities, the runtime's seccomp profile, a non-root user (the image
// must say USER with a numeric uid; NOTES.md says so). The root
// filesystem stays writable, as slipway leaves it.
func securityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		RunAsNonRoot:             ptr(true),
		ReadOnlyRootFilesystem:   ptr(false),
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// healthPath is the path an instance is probed at, and whether it was
// chosen (slipway.yml's healthcheck or the stage's health.path). The
// default /healthy is not: slipway falls back to / when it answers 404,
// which a Kubernetes probe cannot, so a TCP probe stands in.
func (b *builder) healthPath(sc core.ScaleSpec) (string, bool) {
	if sc.Health.Path != "" {
		return sc.Health.Path, true
	}
	return b.stack.Health.Path, b.stack.Health.Explicit
}

// handler probes the health path over HTTP, or the port over TCP when no
// path was chosen.
func (b *builder) handler(sc core.ScaleSpec, port intstr.IntOrString) corev1.ProbeHandler {
	path, explicit := b.healthPath(sc)
	if !explicit {
		b.notes.once("tcp-probe", "No healthcheck path is set in slipway.yml: probes check that the port accepts connections (slipway would GET /healthy, then / on a 404). Set `healthcheck:` to probe a path.", true)
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}
	}
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}
}

// probes translate slipway's health checks: readiness is joining the
// routes (healthy passes in a row), liveness is being replaced (unhealthy
// failures in a row), and the startup probe gives a new instance
// healthcheck.start_timeout to turn healthy first.
func (b *builder) probes(sc core.ScaleSpec) (readiness, liveness, startup *corev1.Probe) {
	port := intstr.FromString(portName)
	period := seconds(sc.Health.Interval.D(), 1)
	timeout := seconds(sc.Health.Timeout.D(), 1)
	probe := func(success, failure int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     b.handler(sc, port),
			PeriodSeconds:    period,
			TimeoutSeconds:   timeout,
			SuccessThreshold: success,
			FailureThreshold: failure,
		}
	}
	readiness = probe(int32(sc.Health.Healthy), int32(sc.Health.Unhealthy))
	liveness = probe(1, int32(sc.Health.Unhealthy)) // Kubernetes requires 1
	start := seconds(b.stack.Health.StartTimeout.D(), 1)
	startup = probe(1, (start+period-1)/period)
	return readiness, liveness, startup
}

// service gives the stage's pods one stable address, port 80.
func (b *builder) service() document {
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: b.meta(b.name()),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(b.stack.Name, b.name()),
			Ports: []corev1.ServicePort{{
				Name: portName, Port: servicePort, TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	return document{object: s}
}

// autoscaler scales the Deployment on CPU as slipway does: the stage's
// target, min and max, and its cooldowns as stabilization windows.
func (b *builder) autoscaler() document {
	sc := b.stage.Spec.EffectiveScale()
	h := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: b.meta(b.name()),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: b.name()},
			MinReplicas:    ptr(int32(sc.Min)),
			MaxReplicas:    int32(sc.Max),
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(sc.CPUTarget))},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(seconds(sc.ScaleOutCooldown.D(), 0))},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(seconds(sc.ScaleInCooldown.D(), 0))},
			},
		},
	}
	return document{
		comments: []string{fmt.Sprintf("Scales %s between %d and %d replicas at %d%% CPU; needs the metrics API (metrics-server).", b.name(), sc.Min, sc.Max, sc.CPUTarget)},
		object:   h,
	}
}
