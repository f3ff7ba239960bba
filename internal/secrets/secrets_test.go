package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.key")
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	s1, _ := b.Seal("hunter2")
	s2, _ := b.Seal("hunter2")
	if s1 == s2 || strings.Contains(s1, "hunter2") {
		t.Fatalf("seal is deterministic or leaks: %q %q", s1, s2)
	}
	// The same key file opens it after a restart.
	b2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Open(s1); err != nil || got != "hunter2" {
		t.Fatalf("open: %q %v", got, err)
	}
	// A different key, a tampered value or garbage do not.
	other, _ := Load(filepath.Join(t.TempDir(), "other.key"))
	if _, err := other.Open(s1); err == nil {
		t.Fatal("opened with another key")
	}
	tampered := s1[:len(s1)-4] + "AAAA"
	if _, err := b.Open(tampered); err == nil {
		t.Fatal("opened a tampered value")
	}
	if _, err := b.Open("plain"); err == nil {
		t.Fatal("opened an unsealed value")
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Fatalf("short key: %v", err)
	}
}
