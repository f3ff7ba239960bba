// Package kubernetes exports a stack as Kubernetes manifests: for each
// container stage a Deployment, a Service, a HorizontalPodAutoscaler
// (autoscaling/v2) and an Ingress (networking.k8s.io/v1); for each
// serverless stage a Knative Service (serving.knative.dev/v1, written by
// hand here rather than importing knative.dev); and for every stage a
// ConfigMap of its env and, when it has secrets, a Secret. What slipway.yml
// says that core Kubernetes cannot express (the gateway's API keys, usage
// plans, JWT, CORS and throttling, the balancer's algorithm and sticky
// sessions, approvals, alarms, schedules, ...) is listed in NOTES.md, and
// in comments above the document it concerns.
//
// Layout, and why:
//   - One namespace per stack, named after it, and objects named after
//     their stage. Knative's default domain template is
//     {{.Name}}.{{.Namespace}}.{{.Domain}}, so a Knative Service named
//     <stage> in namespace <stack> answers at <stage>.<stack>.<domain>,
//     the host slipway serves it at; stages of one stack can share a
//     namespace because slipway's path routes send one stage's paths to
//     another stage, which an Ingress can only do within a namespace.
//     The Namespace object itself is not emitted (NOTES.md says how to
//     create it): every emitted document is validated against the official
//     schemas in tests, and the shared schema set has none for Namespace.
//   - One multi-document file per stage (<stage>.yaml), its Secret in a
//     file of its own (<stage>.secrets.yaml) so that values, when asked
//     for, can be kept out of version control; stage names hold no '.',
//     so the names never collide.
//   - Secrets without values (the default) are emitted without data, and
//     the pods read each key with a secretKeyRef: applied as is, pods fail
//     to start with "couldn't find key", rather than starting with empty
//     secrets.
//   - Security: every container runs with allowPrivilegeEscalation false,
//     all capabilities dropped, the RuntimeDefault seccomp profile and
//     runAsNonRoot (the Pod Security Standard "restricted"), and without a
//     service account token. The root filesystem stays writable, as it is
//     under slipway: an app that writes to /tmp would break otherwise.
//
// The exporter is a pure translator: it reads nothing and talks to no
// cluster. Its output is deterministic (sorted keys, stages in pipeline
// order) and golden-tested.
package kubernetes
