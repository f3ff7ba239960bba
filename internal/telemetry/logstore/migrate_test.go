package logstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateLegacy(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("access/shop/dev/access.2.ndjson", `{"time":"2026-11-20T08:00:00Z","request_id":"a"}`+"\n")
	write("access/shop/dev/access.1.ndjson", `{"time":"2026-11-21T08:00:00Z","request_id":"b"}`+"\n")
	write("access/shop/dev/access.ndjson", `{"time":"2026-11-22T08:00:00Z","request_id":"c"}`+"\n")
	write("builds/shop/b2.ndjson", `{"time":"2026-11-21T08:00:00Z","type":"done","build":"b2"}`+"\n")
	write("builds/shop/b10.ndjson", `{"time":"2026-11-22T08:00:00Z","type":"done","build":"b10"}`+"\n")
	write("builds/dev/runtime/00000001-20261122T080000Z.ndjson", "") // a stack named builds: left alone
	s := open(t, Config{Dir: dir})
	if err := s.MigrateLegacy(); err != nil {
		t.Fatal(err)
	}
	read := func(k Key, field string) string {
		var ids []string
		s.Read(context.Background(), Query{Keys: []Key{k}}, func(e Entry) error {
			_, rest, _ := strings.Cut(string(e.JSON), `"`+field+`":"`)
			id, _, _ := strings.Cut(rest, `"`)
			ids = append(ids, id)
			return nil
		})
		return strings.Join(ids, ",")
	}
	if got := read(Key{Stack: "shop", Stage: "dev", Kind: Access}, "request_id"); got != "a,b,c" {
		t.Errorf("access after migration: %s", got)
	}
	if got := read(Key{Stack: "shop", Kind: Build}, "build"); got != "b2,b10" {
		t.Errorf("builds after migration: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "access")); !os.IsNotExist(err) {
		t.Errorf("the legacy access dir is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "builds", "dev", "runtime", "00000001-20261122T080000Z.ndjson")); err != nil {
		t.Errorf("a stack named builds lost its logs: %v", err)
	}
}
