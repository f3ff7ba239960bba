package core

import (
	"fmt"
	"sort"
)

// Env is what an instance of the release runs with, secrets aside: PORT,
// then the stage's env from slipway.yml overridden by the release's `env
// set` variables, sorted for stable output.
func (r Release) Env() []string {
	vals := map[string]string{}
	if st, ok := r.Spec.Stage(r.Stage); ok {
		for k, v := range st.Env {
			vals[k] = v
		}
	}
	for k, v := range r.Vars {
		vals[k] = v
	}
	env := []string{fmt.Sprintf("PORT=%d", r.Spec.Port)}
	for k, v := range vals {
		env = append(env, k+"="+v)
	}
	sort.Strings(env[1:])
	return env
}

// SecretEnv opens the release's sealed secrets with open into sorted
// KEY=value entries. Only an instance's creation should call it.
func (r Release) SecretEnv(open func(sealed string) (string, error)) ([]string, error) {
	if len(r.Secrets) == 0 {
		return nil, nil
	}
	if open == nil {
		return nil, Errorf(CodeUnavailable, "release %s has secrets but this server cannot open them", r.ID)
	}
	var env []string
	for k, sealed := range r.Secrets {
		v, err := open(sealed)
		if err != nil {
			return nil, Errorf(CodeInternal, "open secret %s of %s/%s: %v", k, r.Stack, r.Stage, err)
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}
