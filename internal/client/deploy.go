package client

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/slipwayhq/slipway/internal/archive"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/starter"
)

// alwaysSent are files the server needs even if .dockerignore lists them
// (docker build likewise always sends the Dockerfile and .dockerignore).
var alwaysSent = []string{"slipway.yml", "build.yml", ".dockerignore"}

// ReadManifest parses dir/slipway.yml, so mistakes are reported before
// anything is uploaded, with the same line-numbered errors the server
// gives.
func ReadManifest(dir string) (core.StackSpec, error) {
	path := filepath.Join(dir, "slipway.yml")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return core.StackSpec{}, fmt.Errorf("no slipway.yml in %s: run `slipway init <name>` to start a stack, or pass --stack to deploy a plain Dockerfile directory", dir)
	}
	if err != nil {
		return core.StackSpec{}, err
	}
	return manifest.Parse("slipway.yml", data)
}

// Deploy packs dir (honouring .dockerignore), uploads it as a build of
// stack, and streams progress to fn until the release serves or fails.
// The returned event is the final "done" event with the stage URL.
func (c *Client) Deploy(ctx context.Context, dir, stack, dockerfile string, fn func(core.Event)) (core.Event, error) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Pack(dir, dockerfile, pw)) }()
	defer pr.Close()
	resp, err := c.send(ctx, "POST", "/v1/stacks/"+url.PathEscape(stack)+"/builds", pr, "application/gzip", "application/x-ndjson")
	if err != nil {
		return core.Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// Pack writes dir as a gzip-compressed tar, leaving out what
// .dockerignore excludes (but never slipway.yml, build.yml, .dockerignore
// or the Dockerfile).
func Pack(dir, dockerfile string, w io.Writer) error {
	var pm *patternmatcher.PatternMatcher
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read .dockerignore: %w", err)
		}
		if pm, err = patternmatcher.New(patterns); err != nil {
			return fmt.Errorf("bad pattern in .dockerignore: %w", err)
		}
	}
	keep := map[string]bool{filepath.ToSlash(filepath.Clean(dockerfile)): true}
	for _, f := range alwaysSent {
		keep[f] = true
	}
	zw := gzip.NewWriter(w)
	err := archive.WriteDir(zw, dir, func(rel string, d fs.DirEntry) (bool, error) {
		if pm == nil || keep[rel] {
			return true, nil
		}
		ignored, err := pm.MatchesOrParentMatches(rel)
		if err != nil || !ignored {
			return !ignored, err
		}
		// A directory may still hold re-included files ("!dir/keep").
		if d.IsDir() && !pm.Exclusions() {
			return false, filepath.SkipDir
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	return zw.Close()
}

// Init scaffolds a starter into dir.
func Init(dir, name, template string) ([]string, error) {
	return starter.Scaffold(dir, name, template)
}

// Templates lists the starters Init knows.
func Templates() []string { return starter.Templates() }

// ManifestSchema is the JSON Schema of slipway.yml.
func ManifestSchema() []byte { return manifest.JSONSchema() }
