package pipeline

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// MaxContextBytes bounds an uploaded build context once unpacked.
const MaxContextBytes = 2 << 30

// Extract unpacks a gzip-compressed tar build context into dir. All
// writes go through an os.Root, which refuses to follow any path (".." or
// a symlink planted by an earlier entry) out of dir, so an upload cannot
// write anywhere else on the host. Symlinks pointing out are refused too.
func Extract(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open build dir: %w", err)
	}
	defer root.Close()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return core.Errorf(core.CodeInvalid, "build context is not a gzip-compressed tar: %v", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return core.Errorf(core.CodeInvalid, "read build context: %v", err)
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return core.Errorf(core.CodeInvalid, "build context entry %q points outside the context", hdr.Name)
		}
		if name == "." {
			continue
		}
		if err := extractEntry(root, tr, hdr, name, &total); err != nil {
			return err
		}
	}
}

func extractEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string, total *int64) error {
	outside := func(err error) error {
		return core.Errorf(core.CodeInvalid, "build context entry %q cannot be written inside the context: %v", hdr.Name, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return outside(err)
		}
	case tar.TypeReg:
		*total += hdr.Size
		if *total > MaxContextBytes {
			return core.Errorf(core.CodeInvalid, "build context is larger than %d MB unpacked; add large files to .dockerignore", MaxContextBytes>>20)
		}
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return outside(err)
		}
		f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, hdr.FileInfo().Mode().Perm()|0o600)
		if err != nil {
			return outside(err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", hdr.Name, err)
		}
	case tar.TypeSymlink:
		// Judge the link's target lexically; os.Root keeps later entries
		// from following it out even if this check were fooled.
		dest := filepath.Join(filepath.Dir(name), filepath.FromSlash(hdr.Linkname))
		if filepath.IsAbs(hdr.Linkname) || dest == ".." || strings.HasPrefix(dest, ".."+string(filepath.Separator)) {
			return core.Errorf(core.CodeInvalid, "build context symlink %q points outside the context", hdr.Name)
		}
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return outside(err)
		}
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return outside(err)
		}
	default:
		// Devices, FIFOs and hard links have no place in a build context.
	}
	return nil
}
