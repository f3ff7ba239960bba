package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// Storage layout of distribution's filesystem driver (see the comment on
// pathFor in distribution's registry/storage/paths.go). The layout is
// versioned ("v2") and is what the stock `registry garbage-collect`
// walks too, so it is stable enough to read directly.
const (
	storageRoot = "/docker/registry/v2"
	blobsRoot   = storageRoot + "/blobs"
	reposRoot   = storageRoot + "/repositories"
)

// GCStats says what a garbage collection removed.
type GCStats struct {
	Manifests int   // manifest revisions unlinked from their repository
	Blobs     int   // blobs deleted from the shared store
	Bytes     int64 // size of those blobs
}

// CollectGarbage deletes, in every repository, the manifests no tag
// reaches (directly or through a tagged image index), then the blobs no
// remaining manifest references, leaving alone anything written less than
// grace ago. It runs while the registry serves; runs are serialized.
//
// It covers the whole registry rather than one repository because blobs
// live in one content-addressed store shared by every repository: knowing
// that a blob is unreferenced takes reading every repository anyway, and a
// whole pass also reclaims what DeleteRepository left behind.
//
// Why this is safe next to pushes, which distribution's own MarkAndSweep
// is not:
//   - A push uploads blobs before it puts the manifest that references
//     them. Those blobs, and the repository links that a re-upload or a
//     cross-repository mount writes for a blob already stored, are younger
//     than grace and stay.
//   - A manifest write over HTTP waits while a collection runs (see
//     guardManifests), so no tag can start pointing at something between
//     the mark and the sweep. A push that found an old unreferenced blob
//     present, skipped uploading it and then lost it to a collection gets
//     its manifest refused (blob unknown) and must push again; it never
//     leaves a tag pointing at a missing blob.
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (GCStats, error) {
	r.gc.Lock()
	defer r.gc.Unlock()
	start := time.Now()
	snap, err := r.observe(ctx)
	if err != nil {
		return GCStats{}, fmt.Errorf("collect garbage: %w", err)
	}
	plan := planGC(snap, start.Add(-grace))
	stats, err := r.sweep(ctx, snap, plan)
	if err != nil {
		return stats, fmt.Errorf("collect garbage: %w", err)
	}
	level := slog.LevelInfo
	if stats == (GCStats{}) {
		level = slog.LevelDebug
	}
	r.logger.Log(ctx, level, "garbage collected", "manifests", stats.Manifests, "blobs", stats.Blobs,
		"bytes", stats.Bytes, "grace", grace, "took", time.Since(start).Round(time.Millisecond))
	return stats, nil
}

// guardManifests makes manifest puts and every delete wait while a garbage
// collection runs, so that its walks see storage change only by addition.
// Blob uploads do not wait: the grace period covers them,
// and a long layer upload must not stall a collection or the other way
// round. Matching "/manifests/" anywhere in the path can catch a
// repository that happens to have such a component; that only costs it a
// wait.
func (r *Registry) guardManifests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodDelete || req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
			r.gc.RLock()
			defer r.gc.RUnlock()
		}
		next.ServeHTTP(w, req)
	})
}

// gcSnapshot is what a collection decides on: plain data read from storage.
type gcSnapshot struct {
	repos map[string]*gcRepo
	blobs map[digest.Digest]gcBlob
}

type gcRepo struct {
	tags      map[string]digest.Digest          // tag → the manifest it points at
	history   map[string][]digest.Digest        // tag → manifests in its index (past and present)
	revisions map[digest.Digest]time.Time       // manifest revision link → modified
	refs      map[digest.Digest][]digest.Digest // a revision's references (configs, layers, children)
	layers    map[digest.Digest]time.Time       // blob link → modified
}

type gcBlob struct {
	size    int64
	modTime time.Time
}

// gcPlan is what a collection deletes.
type gcPlan struct {
	manifests map[string][]digest.Digest // repository → revisions, sorted
	blobs     []digest.Digest            // sorted
}

// planGC marks, per repository, every manifest reachable from a tag or
// written after cutoff, and everything those reference; the revisions it
// did not reach go. A blob goes when no repository marked it and neither
// it nor any repository's link to it was written after cutoff.
func planGC(s gcSnapshot, cutoff time.Time) gcPlan {
	plan := gcPlan{manifests: map[string][]digest.Digest{}}
	marked := map[digest.Digest]bool{}
	linkedLately := map[digest.Digest]bool{}
	for name, repo := range s.repos {
		reached := map[digest.Digest]bool{}
		var visit func(digest.Digest)
		visit = func(d digest.Digest) {
			if reached[d] {
				return
			}
			reached[d], marked[d] = true, true
			for _, ref := range repo.refs[d] {
				visit(ref)
			}
		}
		for _, d := range repo.tags {
			visit(d)
		}
		for d, mod := range repo.revisions {
			if mod.After(cutoff) {
				visit(d)
			}
		}
		for d := range repo.revisions {
			if !reached[d] {
				plan.manifests[name] = append(plan.manifests[name], d)
			}
		}
		slices.Sort(plan.manifests[name])
		for d, mod := range repo.layers {
			if mod.After(cutoff) {
				linkedLately[d] = true
			}
		}
	}
	for d, b := range s.blobs {
		if !marked[d] && !linkedLately[d] && !b.modTime.After(cutoff) {
			plan.blobs = append(plan.blobs, d)
		}
	}
	slices.Sort(plan.blobs)
	return plan
}

// observe reads the snapshot: one walk of the repositories, one of the
// blob store, and each manifest revision's content for its references.
func (r *Registry) observe(ctx context.Context) (gcSnapshot, error) {
	snap := gcSnapshot{repos: map[string]*gcRepo{}, blobs: map[digest.Digest]gcBlob{}}
	repo := func(name string) *gcRepo {
		if rp, ok := snap.repos[name]; ok {
			return rp
		}
		rp := &gcRepo{tags: map[string]digest.Digest{}, history: map[string][]digest.Digest{},
			revisions: map[digest.Digest]time.Time{}, refs: map[digest.Digest][]digest.Digest{}, layers: map[digest.Digest]time.Time{}}
		snap.repos[name] = rp
		return rp
	}
	err := walk(ctx, r.driver, reposRoot, func(fi storagedriver.FileInfo) error {
		name, parts, ok := splitRepoPath(fi.Path())
		if !ok {
			return nil
		}
		if fi.IsDir() {
			if len(parts) == 1 && parts[0] == "_uploads" {
				return storagedriver.ErrSkipDir // the upload purger's business
			}
			return nil
		}
		if parts[len(parts)-1] != "link" {
			return nil
		}
		switch {
		case len(parts) == 5 && parts[0] == "_manifests" && parts[1] == "revisions":
			if d, ok := parseDigest(parts[2], parts[3]); ok {
				repo(name).revisions[d] = fi.ModTime()
			}
		case len(parts) == 4 && parts[0] == "_layers":
			if d, ok := parseDigest(parts[1], parts[2]); ok {
				repo(name).layers[d] = fi.ModTime()
			}
		case len(parts) == 5 && parts[0] == "_manifests" && parts[1] == "tags" && parts[3] == "current":
			b, err := r.driver.GetContent(ctx, fi.Path())
			if err != nil {
				return fmt.Errorf("read tag %s:%s: %w", name, parts[2], err)
			}
			d, err := digest.Parse(strings.TrimSpace(string(b)))
			if err != nil {
				return fmt.Errorf("read tag %s:%s: %w", name, parts[2], err)
			}
			repo(name).tags[parts[2]] = d
		case len(parts) == 7 && parts[0] == "_manifests" && parts[1] == "tags" && parts[3] == "index":
			if d, ok := parseDigest(parts[4], parts[5]); ok {
				repo(name).history[parts[2]] = append(repo(name).history[parts[2]], d)
			}
		}
		return nil
	})
	if err != nil {
		return snap, fmt.Errorf("walk repositories: %w", err)
	}
	for name, rp := range snap.repos {
		if err := r.readRefs(ctx, name, rp); err != nil {
			return snap, err
		}
	}
	err = walk(ctx, r.driver, blobsRoot, func(fi storagedriver.FileInfo) error {
		// <algorithm>/<first two hex>/<hex>/data
		parts := strings.Split(strings.TrimPrefix(fi.Path(), blobsRoot+"/"), "/")
		if fi.IsDir() || len(parts) != 4 || parts[3] != "data" {
			return nil
		}
		if d, ok := parseDigest(parts[0], parts[2]); ok {
			snap.blobs[d] = gcBlob{size: fi.Size(), modTime: fi.ModTime()}
		}
		return nil
	})
	if err != nil {
		return snap, fmt.Errorf("walk blobs: %w", err)
	}
	return snap, nil
}

// readRefs fills rp.refs from each revision's content. A revision whose
// content is gone has nothing left to protect; any other read error stops
// the collection, since an unread manifest could reference anything.
func (r *Registry) readRefs(ctx context.Context, name string, rp *gcRepo) error {
	if len(rp.revisions) == 0 {
		return nil
	}
	rep, err := r.repository(ctx, name)
	if err != nil {
		return err
	}
	ms, err := rep.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("open manifests of %s: %w", name, err)
	}
	for d := range rp.revisions {
		m, err := ms.Get(ctx, d)
		if errors.As(err, new(distribution.ErrManifestUnknownRevision)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read manifest %s@%s: %w", name, d, err)
		}
		for _, desc := range m.References() {
			rp.refs[d] = append(rp.refs[d], desc.Digest)
		}
	}
	return nil
}

// sweep deletes what plan names: manifest revisions (with their entries in
// tag histories) first, then blobs with every repository's link to them,
// so that an interrupted sweep leaves only unreferenced blobs behind.
func (r *Registry) sweep(ctx context.Context, snap gcSnapshot, plan gcPlan) (GCStats, error) {
	var stats GCStats
	for name, ds := range plan.manifests {
		gone := map[digest.Digest]bool{}
		for _, d := range ds {
			deleted, err := r.deletePath(ctx, path.Join(reposRoot, name, "_manifests/revisions", d.Algorithm().String(), d.Encoded()))
			if err != nil {
				return stats, fmt.Errorf("delete manifest %s@%s: %w", name, d, err)
			}
			gone[d] = true
			if deleted {
				stats.Manifests++
			}
		}
		for tag, history := range snap.repos[name].history {
			for _, d := range history {
				if !gone[d] {
					continue
				}
				if _, err := r.deletePath(ctx, path.Join(reposRoot, name, "_manifests/tags", tag, "index", d.Algorithm().String(), d.Encoded())); err != nil {
					return stats, fmt.Errorf("delete history of tag %s:%s: %w", name, tag, err)
				}
			}
		}
	}
	for _, d := range plan.blobs {
		deleted, err := r.deletePath(ctx, path.Join(blobsRoot, d.Algorithm().String(), d.Encoded()[:2], d.Encoded()))
		if err != nil {
			return stats, fmt.Errorf("delete blob %s: %w", d, err)
		}
		if deleted {
			stats.Blobs++
			stats.Bytes += snap.blobs[d].size
		}
		for name, rp := range snap.repos {
			if _, ok := rp.layers[d]; !ok {
				continue
			}
			if _, err := r.deletePath(ctx, path.Join(reposRoot, name, "_layers", d.Algorithm().String(), d.Encoded())); err != nil {
				return stats, fmt.Errorf("delete link to blob %s in %s: %w", d, name, err)
			}
		}
	}
	return stats, nil
}

// deletePath removes p and what is under it; a path already gone is not
// an error, and reports false.
func (r *Registry) deletePath(ctx context.Context, p string) (bool, error) {
	if err := r.driver.Delete(ctx, p); err != nil {
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// walk is driver.Walk where a missing root (a registry nothing was pushed
// to yet) is empty. Only the root: a path vanishing mid-walk is an error,
// since a walk cut short would miss tags and references.
func walk(ctx context.Context, d storagedriver.StorageDriver, root string, f storagedriver.WalkFn) error {
	if _, err := d.Stat(ctx, root); err != nil {
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			return nil
		}
		return err
	}
	return d.Walk(ctx, root, f)
}

// splitRepoPath splits a path under reposRoot into the repository name
// and the parts from its first "_" component on ("_layers", "sha256",
// ...). Repository name components never start with "_", so the first one
// that does ends the name.
func splitRepoPath(p string) (string, []string, bool) {
	rel, ok := strings.CutPrefix(p, reposRoot+"/")
	if !ok {
		return "", nil, false
	}
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, "_") {
			if i == 0 {
				return "", nil, false
			}
			return strings.Join(parts[:i], "/"), parts[i:], true
		}
	}
	return "", nil, false
}

func parseDigest(algorithm, encoded string) (digest.Digest, bool) {
	d, err := digest.Parse(algorithm + ":" + encoded)
	return d, err == nil
}
