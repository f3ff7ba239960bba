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

// Extract unpacks a gzip-compressed tar build context into dir. It refuses
// entries that would land outside dir (absolute paths, "..", links that
// point out) so an upload cannot write anywhere else on the host.
func Extract(r io.Reader, dir string) error {
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
		target := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += hdr.Size
			if total > MaxContextBytes {
				return core.Errorf(core.CodeInvalid, "build context is larger than %d MB unpacked; add large files to .dockerignore", MaxContextBytes>>20)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, hdr.FileInfo().Mode().Perm()|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			dest := hdr.Linkname
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(filepath.Dir(target), dest)
			}
			if rel, err := filepath.Rel(dir, dest); err != nil || strings.HasPrefix(rel, "..") {
				return core.Errorf(core.CodeInvalid, "build context symlink %q points outside the context", hdr.Name)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		default:
			// Devices, FIFOs and hard links have no place in a build context.
		}
	}
}
