package pipeline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

type entry struct {
	name, link, body string
	typ              byte
}

func tarGz(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	zw.Close()
	return &buf
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	err := Extract(tarGz(t,
		entry{name: "src/", typ: tar.TypeDir},
		entry{name: "src/main.go", body: "package main", typ: tar.TypeReg},
		entry{name: "link", link: "src/main.go", typ: tar.TypeSymlink},
	), dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "link")); string(b) != "package main" {
		t.Fatalf("link reads %q", b)
	}
}

// TestExtractStaysInside feeds uploads that try to write outside the
// build dir; each must be refused and write nothing outside.
func TestExtractStaysInside(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot path":  {{name: "../evil", body: "x", typ: tar.TypeReg}},
		"absolute path": {{name: "/tmp/evil", body: "x", typ: tar.TypeReg}},
		"absolute link": {{name: "l", link: "/", typ: tar.TypeSymlink}},
		"link out":      {{name: "l", link: "../..", typ: tar.TypeSymlink}},
		// A chain of links that each look harmless on their own.
		"chained links": {
			{name: "a", link: ".", typ: tar.TypeSymlink},
			{name: "a/b", link: "..", typ: tar.TypeSymlink},
			{name: "a/b/evil", body: "x", typ: tar.TypeReg},
		},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ctx")
			os.Mkdir(dir, 0o755)
			err := Extract(tarGz(t, entries...), dir)
			if core.CodeOf(err) != core.CodeInvalid {
				t.Fatalf("got %v, want an invalid-input error", err)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("a file was written outside the build dir")
			}
			if !strings.Contains(err.Error(), "context") {
				t.Fatalf("error does not say what was wrong: %v", err)
			}
		})
	}
}

func TestExtractRejectsNonGzip(t *testing.T) {
	if err := Extract(strings.NewReader("not gzip"), t.TempDir()); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("got %v", err)
	}
}
