// Package export turns a stack (its slipway.yml and what the state store
// knows of its stages) into the files another platform deploys: AWS
// CloudFormation templates (export/cloudformation) and Kubernetes
// manifests with Knative Services (export/kubernetes). Exporters are pure
// translators with golden-file tests; they never talk to AWS or a cluster.
package export
