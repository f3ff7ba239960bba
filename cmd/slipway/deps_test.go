package main

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencyRules keeps ARCHITECTURE.md's rules true: core imports
// nothing internal, and the CLI reaches the server only through client.
func TestDependencyRules(t *testing.T) {
	const mod = "github.com/slipwayhq/slipway/internal/"
	rules := map[string][]string{
		"core": nil,
		"cli":  {"client"},
	}
	for pkg, allowed := range rules {
		p, err := build.Import(mod+pkg, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			name, internal := strings.CutPrefix(imp, mod)
			if !internal {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || name == a
			}
			if !ok {
				t.Errorf("internal/%s imports internal/%s; allowed: %v", pkg, name, allowed)
			}
		}
	}
}
