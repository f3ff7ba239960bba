package manifest

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.golden from the parsers' output")

// runGolden parses every dir/<case>.yml as file and compares the result
// with dir/<case>.golden: the value as indented JSON, or the error line.
// Cases named err-* must fail and the others must not, so that -update
// cannot quietly turn an error case into a success or back.
func runGolden[T any](t *testing.T, dir, file string, parse func(string, []byte) (T, error)) {
	t.Helper()
	cases, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in %s (%v)", dir, err)
	}
	for _, in := range cases {
		name := strings.TrimSuffix(filepath.Base(in), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			v, err := parse(file, data)
			wantErr := strings.HasPrefix(name, "err-")
			var got string
			switch {
			case err != nil && !wantErr:
				t.Fatalf("unexpected error: %v", err)
			case err == nil && wantErr:
				t.Fatalf("want an error, got none")
			case err != nil:
				checkError(t, file, err)
				got = err.Error() + "\n"
			default:
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false) // keep "> file" readable in commands
				enc.SetIndent("", "  ")
				if err := enc.Encode(v); err != nil {
					t.Fatal(err)
				}
				got = b.String()
			}
			golden := filepath.Join(dir, name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/manifest -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

// checkError checks the promises every parse error keeps: one line,
// file:line:col first, CodeInvalid, and an *Error inside.
func checkError(t *testing.T, file string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, file+":") {
		t.Errorf("error does not start with %q: %q", file+":", msg)
	}
	if code := core.CodeOf(err); code != core.CodeInvalid {
		t.Errorf("code = %s, want %s", code, core.CodeInvalid)
	}
	var perr *Error
	if !errors.As(err, &perr) || len(perr.Problems) == 0 {
		t.Fatalf("error %v does not wrap a *manifest.Error with problems", err)
	}
	for _, p := range perr.Problems {
		if p.Line < 1 || p.Col < 1 {
			t.Errorf("problem without a position: %+v", p)
		}
	}
}
