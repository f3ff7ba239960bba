package credentials

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	in := map[string]string{Server: "http://127.0.0.1:7070", Token: "abc123"}
	if err := Write(p, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	out, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if out[Server] != in[Server] || out[Token] != in[Token] || len(out) != 2 {
		t.Fatalf("got %v", out)
	}
}
