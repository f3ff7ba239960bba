package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// envHashAnnotation carries a hash of the stage's env and secret names on
// the pod template, so that applying a changed ConfigMap rolls the pods
// (a slipway `env set` makes a new release; a ConfigMap alone would not).
const envHashAnnotation = "slipway.dev/env-hash"

// secretKeysAnnotation lists a Secret's keys when its values are left out.
const secretKeysAnnotation = "slipway.dev/secret-keys"

// configMap holds the stage's plain env.
func (b *builder) configMap() document {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(configMapName(b.name())),
		Data:       maps.Clone(b.stage.Env),
	}
	return document{
		comments: []string{"The stage's environment (slipway.yml's env and `slipway env set`)."},
		object:   cm,
	}
}

// secret holds the stage's secrets: their values only when the export
// asked for them; else no data at all, and NOTES.md says how to fill it.
func (b *builder) secret() document {
	keys := slices.Sorted(maps.Keys(b.stage.Secrets))
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: b.meta(secretName(b.name())),
		Type:       corev1.SecretTypeOpaque,
	}
	var comments []string
	if b.opts.IncludeSecrets {
		s.StringData = maps.Clone(b.stage.Secrets)
		comments = []string{"The stage's secrets, WITH their values: keep this file out of version control."}
	} else {
		s.Annotations = map[string]string{secretKeysAnnotation: strings.Join(keys, ",")}
		comments = []string{
			"The stage's secrets, without their values (export with --include-secrets to have them).",
			"Pods read each key and fail to start until it is set: add the values before applying,",
		}
		comments = append(comments, "stringData:")
		for _, k := range keys {
			comments = append(comments, "  "+k+": \"...\"")
		}
		b.notes.add("Secrets %s have no values in `%s.secrets.yaml`: add them (the comment in that file shows where) or create the Secret `%s` yourself; pods do not start without them.",
			strings.Join(keys, ", "), b.name(), secretName(b.name()))
	}
	return document{comments: comments, object: s}
}

// env is what a container reads besides the ConfigMap: PORT first when
// asked (the Knative runtime sets PORT itself and refuses it), then each
// secret by key, sorted.
func (b *builder) env(withPort bool) []corev1.EnvVar {
	var out []corev1.EnvVar
	if withPort {
		out = append(out, corev1.EnvVar{Name: "PORT", Value: strconv.Itoa(b.stack.Port)})
	}
	for _, k := range slices.Sorted(maps.Keys(b.stage.Secrets)) {
		out = append(out, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secretName(b.name())},
				Key:                  k,
			},
		}})
	}
	return out
}

// envFrom loads the whole ConfigMap as variables.
func (b *builder) envFrom() []corev1.EnvFromSource {
	return []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMapName(b.name())},
	}}}
}

// envHash hashes the env (names and values) and the secrets' names, and
// their values only when they are exported.
func (b *builder) envHash() string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(b.stage.Env)) {
		h.Write([]byte("env\x00" + k + "\x00" + b.stage.Env[k] + "\x00"))
	}
	for _, k := range slices.Sorted(maps.Keys(b.stage.Secrets)) {
		v := ""
		if b.opts.IncludeSecrets {
			v = b.stage.Secrets[k]
		}
		h.Write([]byte("secret\x00" + k + "\x00" + v + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// meta is the metadata of one of the stage's objects.
func (b *builder) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: b.stack.Name, Labels: labels(b.stack.Name, b.name())}
}
