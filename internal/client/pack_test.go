package client

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestPackHonoursDockerignore(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		".dockerignore":     ".git\n**/*.md\nbuild.yml\nlogs/\n!logs/keep.txt\nDockerfile\n",
		"Dockerfile":        "FROM scratch\n",
		"slipway.yml":       "name: x\n",
		"build.yml":         "version: 0.2\n",
		"main.go":           "package main\n",
		"README.md":         "# hi\n",
		".git/HEAD":         "ref\n",
		"logs/a.log":        "x\n",
		"logs/keep.txt":     "kept\n",
		"sub/dir/data.json": "{}\n",
		"sub/dir/NOTES.md":  "no\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Pack(dir, "Dockerfile", &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var got []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			got = append(got, hdr.Name)
		}
	}
	sort.Strings(got)
	want := []string{".dockerignore", "Dockerfile", "build.yml", "logs/keep.txt", "main.go", "slipway.yml", "sub/dir/data.json"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("packed %v\nwant   %v", got, want)
	}
}
