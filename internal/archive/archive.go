// Package archive writes a directory as a tar stream: the build context
// the client uploads and the one the pipeline hands to the engine. It
// keeps regular files, directories and symlinks, with owners zeroed so a
// context does not depend on who built it.
package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Filter decides whether to include a path (slash-separated, relative to
// the root). Returning fs.SkipDir for a directory skips what is below it.
type Filter func(rel string, d fs.DirEntry) (bool, error)

// WriteDir writes dir to w as an uncompressed tar; include may be nil.
func WriteDir(w io.Writer, dir string, include Filter) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if include != nil {
			ok, err := include(rel, d)
			if err != nil || !ok {
				return err
			}
		}
		return add(tw, path, rel, d)
	})
	if err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return tw.Close()
}

func add(tw *tar.Writer, path, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	if !info.Mode().IsRegular() && !info.IsDir() && link == "" {
		return nil // sockets, devices and pipes are not build input
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
