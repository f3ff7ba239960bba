package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "skip"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "f.txt"), []byte("hello"), 0o640)
	os.WriteFile(filepath.Join(dir, "a", "skip", "x"), []byte("no"), 0o644)
	os.Symlink("f.txt", filepath.Join(dir, "a", "link"))
	var buf bytes.Buffer
	err := WriteDir(&buf, dir, func(rel string, d fs.DirEntry) (bool, error) {
		if rel == "a/skip" {
			return false, filepath.SkipDir
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entry := h.Name
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			entry += "=" + string(b)
		case tar.TypeSymlink:
			entry += "->" + h.Linkname
		}
		if h.Uid != 0 || h.Uname != "" {
			t.Errorf("%s keeps its owner %d/%q", h.Name, h.Uid, h.Uname)
		}
		got = append(got, entry)
	}
	if want := "a/,a/f.txt=hello,a/link->f.txt"; strings.Join(got, ",") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}
