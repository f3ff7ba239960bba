package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

func TestParseGolden(t *testing.T) {
	runGolden(t, "testdata/slipway", "slipway.yml", Parse)
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &x [*x]\nb: *x\n"))
	f.Add([]byte("x: &m {<<: *m}\nname: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		spec, err := Parse("slipway.yml", data)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Parse took %s on %d bytes", d, len(data))
		}
		if err == nil {
			// What Parse accepts, core accepts: every stage gets a complete,
			// valid scale spec and a well-formed network.
			for _, st := range spec.Stages {
				if err := st.Scale.Validate(); err != nil {
					t.Fatalf("stage %s: Parse accepted a scale core rejects: %v", st.Name, err)
				}
				if a := st.Network.Attach; a != "" && !networkNameRE.MatchString(a) {
					t.Fatalf("stage %s: Parse accepted network.attach %q", st.Name, a)
				}
				if k := st.Endpoint.Kind; k != "" && !slices.Contains(endpointKinds, k) {
					t.Fatalf("stage %s: Parse accepted endpoint kind %q", st.Name, k)
				}
			}
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "slipway.yml:") {
			t.Fatalf("error does not start with the file name: %q", msg)
		}
		if strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("error is not one line: %q", msg)
		}
		if core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("code = %s, want invalid: %q", core.CodeOf(err), msg)
		}
	})
}
