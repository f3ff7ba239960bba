package starter

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/slipwayhq/slipway/internal/core"
)

// The all: prefix keeps dotfiles such as .dockerignore, which a plain
// directory embed would silently drop.
//
//go:embed all:templates
var templatesFS embed.FS

const tmplSuffix = ".tmpl"

// Templates returns the names of the embedded templates, sorted.
func Templates() []string {
	entries, err := templatesFS.ReadDir("templates")
	if err != nil {
		panic(err) // the directory is embedded at build time; it is there
	}
	var names []string
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// Scaffold writes the named template into dir for a stack called name and
// returns the paths it wrote, relative to dir. dir is created if missing;
// an existing dir must be empty, so nothing of the user's is overwritten.
func Scaffold(dir, name, template string) ([]string, error) {
	if err := core.ValidateStackName(name); err != nil {
		return nil, err
	}
	files, err := render(template, name)
	if err != nil {
		return nil, err
	}
	created, err := prepareDir(dir)
	if err != nil {
		return nil, err
	}

	written := make([]string, 0, len(files))
	for _, f := range files {
		rel := filepath.FromSlash(f.path)
		if err := writeFile(filepath.Join(dir, rel), f.data); err != nil {
			cleanUp(dir, created, written)
			return nil, err
		}
		written = append(written, rel)
	}
	return written, nil
}

// file is one rendered file of a template, with a slash-separated path.
type file struct {
	path string
	data []byte
}

// render produces every file of a template in memory first, so a broken
// template fails before anything touches the disk.
func render(tmplName, name string) ([]file, error) {
	root := path.Join("templates", tmplName)
	if tmplName == "" || strings.ContainsAny(tmplName, `/\.`) || !isDir(root) {
		return nil, core.Errorf(core.CodeInvalid, "unknown template %q; available: %s",
			tmplName, strings.Join(Templates(), ", "))
	}
	data := struct{ Name string }{Name: name}

	var files []file
	err := fs.WalkDir(templatesFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := templatesFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if strings.HasSuffix(rel, tmplSuffix) {
			rel = strings.TrimSuffix(rel, tmplSuffix)
			t, err := template.New(rel).Option("missingkey=error").Parse(string(raw))
			if err != nil {
				return fmt.Errorf("parse template %s: %w", p, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return fmt.Errorf("render template %s: %w", p, err)
			}
			raw = buf.Bytes()
		}
		files = append(files, file{path: rel, data: raw})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", tmplName, err)
	}
	return files, nil
}

func isDir(p string) bool {
	info, err := fs.Stat(templatesFS, p)
	return err == nil && info.IsDir()
}

// prepareDir makes sure dir exists and is empty, and reports whether it
// had to create it (so a failed scaffold can remove it again).
func prepareDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create directory %s: %w", dir, err)
		}
		return true, nil
	case err != nil:
		// Most often dir is a regular file: as much in the way as a
		// non-empty directory.
		if info, serr := os.Stat(dir); serr == nil && !info.IsDir() {
			return false, core.Errorf(core.CodeConflict, "%s already exists and is not a directory", dir)
		}
		return false, fmt.Errorf("read directory %s: %w", dir, err)
	case len(entries) > 0:
		return false, core.Errorf(core.CodeConflict, "directory %s already exists and is not empty", dir)
	}
	return false, nil
}

// writeFile creates p exclusively: even if something appears in dir after
// the emptiness check, it is never overwritten.
func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", filepath.Dir(p), err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// cleanUp undoes a failed scaffold as far as it safely can: a directory
// Scaffold created goes entirely; otherwise only the files it wrote go.
func cleanUp(dir string, created bool, written []string) {
	if created {
		os.RemoveAll(dir)
		return
	}
	for _, rel := range written {
		os.Remove(filepath.Join(dir, rel))
	}
}
