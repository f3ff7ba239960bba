package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestPlanGC(t *testing.T) {
	now := time.Now()
	old, young := now.Add(-2*time.Hour), now.Add(-time.Minute)
	cutoff := now.Add(-time.Hour)
	d := func(s string) digest.Digest { return digest.FromString(s) }
	repo := func(tags map[string]string, revisions map[string]time.Time, refs map[string][]string, layers map[string]time.Time) *gcRepo {
		r := &gcRepo{tags: map[string]digest.Digest{}, revisions: map[digest.Digest]time.Time{},
			refs: map[digest.Digest][]digest.Digest{}, layers: map[digest.Digest]time.Time{}}
		for tag, m := range tags {
			r.tags[tag] = d(m)
		}
		for m, mod := range revisions {
			r.revisions[d(m)] = mod
		}
		for m, rs := range refs {
			for _, ref := range rs {
				r.refs[d(m)] = append(r.refs[d(m)], d(ref))
			}
		}
		for b, mod := range layers {
			r.layers[d(b)] = mod
		}
		return r
	}
	blobs := func(mods map[string]time.Time) map[digest.Digest]gcBlob {
		out := map[digest.Digest]gcBlob{}
		for b, mod := range mods {
			out[d(b)] = gcBlob{size: 1, modTime: mod}
		}
		return out
	}
	ds := func(names ...string) []digest.Digest {
		var out []digest.Digest
		for _, n := range names {
			out = append(out, d(n))
		}
		slices.Sort(out)
		return out
	}

	tests := []struct {
		name          string
		snap          gcSnapshot
		wantManifests map[string][]digest.Digest
		wantBlobs     []digest.Digest
	}{{
		name: "untagged manifest and its own blobs go, shared layer stays",
		snap: gcSnapshot{
			repos: map[string]*gcRepo{"app": repo(map[string]string{"a": "mA"},
				map[string]time.Time{"mA": old, "mB": old},
				map[string][]string{"mA": {"cA", "shared"}, "mB": {"cB", "shared", "onlyB"}},
				map[string]time.Time{"cA": old, "cB": old, "shared": old, "onlyB": old})},
			blobs: blobs(map[string]time.Time{"mA": old, "mB": old, "cA": old, "cB": old, "shared": old, "onlyB": old}),
		},
		wantManifests: map[string][]digest.Digest{"app": ds("mB")},
		wantBlobs:     ds("mB", "cB", "onlyB"),
	}, {
		name: "a tagged index keeps its children and theirs",
		snap: gcSnapshot{
			repos: map[string]*gcRepo{"app": repo(map[string]string{"multi": "idx"},
				map[string]time.Time{"idx": old, "amd": old, "arm": old},
				map[string][]string{"idx": {"amd", "arm"}, "amd": {"c1", "l1"}, "arm": {"c2", "l2"}}, nil)},
			blobs: blobs(map[string]time.Time{"idx": old, "amd": old, "arm": old, "c1": old, "l1": old, "c2": old, "l2": old}),
		},
	}, {
		name: "young things stay: a manifest, what it references, a blob, a fresh link to an old blob",
		snap: gcSnapshot{
			repos: map[string]*gcRepo{"app": repo(nil,
				map[string]time.Time{"fresh": young, "stale": old},
				map[string][]string{"fresh": {"c1"}, "stale": {"c2"}},
				map[string]time.Time{"relinked": young})},
			blobs: blobs(map[string]time.Time{"fresh": old, "c1": old, "stale": old, "c2": old, "upload": young, "relinked": old}),
		},
		wantManifests: map[string][]digest.Digest{"app": ds("stale")},
		wantBlobs:     ds("stale", "c2"),
	}, {
		name: "a blob another repository's tag reaches stays",
		snap: gcSnapshot{
			repos: map[string]*gcRepo{
				"app":   repo(nil, map[string]time.Time{"m1": old}, map[string][]string{"m1": {"c1", "l"}}, nil),
				"other": repo(map[string]string{"v1": "m2"}, map[string]time.Time{"m2": old}, map[string][]string{"m2": {"c2", "l"}}, nil),
			},
			blobs: blobs(map[string]time.Time{"m1": old, "m2": old, "c1": old, "c2": old, "l": old}),
		},
		wantManifests: map[string][]digest.Digest{"app": ds("m1")},
		wantBlobs:     ds("m1", "c1"),
	}, {
		name: "a tag pointing at a missing revision marks what it can and breaks nothing",
		snap: gcSnapshot{
			repos: map[string]*gcRepo{"app": repo(map[string]string{"v1": "gone"}, nil, nil, nil)},
			blobs: blobs(map[string]time.Time{"gone": old, "orphan": old}),
		},
		wantBlobs: ds("orphan"),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planGC(tt.snap, cutoff)
			for name, ms := range got.manifests {
				if len(ms) == 0 {
					delete(got.manifests, name)
				}
			}
			want := tt.wantManifests
			if want == nil {
				want = map[string][]digest.Digest{}
			}
			if !reflect.DeepEqual(got.manifests, want) {
				t.Errorf("manifests = %v, want %v", got.manifests, want)
			}
			if !reflect.DeepEqual(got.blobs, tt.wantBlobs) {
				t.Errorf("blobs = %v, want %v", got.blobs, tt.wantBlobs)
			}
		})
	}
}

// image is an OCI image to push: config and layers are blob contents.
type image struct {
	config []byte
	layers [][]byte
}

func (im image) manifest() []byte {
	var layers []string
	for _, l := range im.layers {
		layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}`, digest.FromBytes(l), len(l)))
	}
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		digest.FromBytes(im.config), len(im.config), strings.Join(layers, ","))
}

func (im image) blobs() []digest.Digest {
	out := []digest.Digest{digest.FromBytes(im.config)}
	for _, l := range im.layers {
		out = append(out, digest.FromBytes(l))
	}
	return out
}

const ociManifest, ociIndex = "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"

// send is one authenticated request that does not need a *testing.T, so
// goroutines can use it; it returns the status, the body and a header.
func send(method, rawURL, contentType string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth("slipway", testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", ociManifest+", "+ociIndex)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// putBlob uploads one blob the way pushBlob does, reporting failure
// instead of failing a test.
func putBlob(base, repo string, content []byte) error {
	status, body, h, err := send(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil || status != http.StatusAccepted {
		return fmt.Errorf("start upload: %d %s %v", status, body, err)
	}
	loc, err := http.NewRequest(http.MethodGet, base, nil)
	if err != nil {
		return err
	}
	u, err := loc.URL.Parse(h.Get("Location"))
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", digest.FromBytes(content).String())
	u.RawQuery = q.Encode()
	if status, body, _, err = send(http.MethodPut, u.String(), "application/octet-stream", content); err != nil || status != http.StatusCreated {
		return fmt.Errorf("finish upload: %d %s %v", status, body, err)
	}
	return nil
}

// putManifest puts a manifest as repo:ref and returns its digest.
func putManifest(base, repo, ref, mediaType string, manifest []byte) (digest.Digest, error) {
	status, body, _, err := send(http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, mediaType, manifest)
	if err != nil || status != http.StatusCreated {
		return "", fmt.Errorf("put manifest %s:%s: %d %s %v", repo, ref, status, body, err)
	}
	return digest.FromBytes(manifest), nil
}

// putImage pushes im as repo:ref (a tag, or "" for by digest).
func putImage(base, repo, ref string, im image) (digest.Digest, error) {
	for _, b := range append([][]byte{im.config}, im.layers...) {
		if err := putBlob(base, repo, b); err != nil {
			return "", err
		}
	}
	m := im.manifest()
	if ref == "" {
		ref = digest.FromBytes(m).String()
	}
	return putManifest(base, repo, ref, ociManifest, m)
}

func mustPutImage(t *testing.T, base, repo, ref string, im image) digest.Digest {
	t.Helper()
	d, err := putImage(base, repo, ref, im)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// verifyPull pulls repo:ref the way a client does, an index's children
// included, and checks every blob against its digest.
func verifyPull(t *testing.T, base, repo, ref string) {
	t.Helper()
	if err := pull(base, repo, ref); err != nil {
		t.Fatal(err)
	}
}

func pull(base, repo, ref string) error {
	status, body, _, err := send(http.MethodGet, base+"/v2/"+repo+"/manifests/"+ref, "", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("pull manifest %s:%s: %d %s %v", repo, ref, status, body, err)
	}
	var m struct {
		Config    struct{ Digest digest.Digest }
		Layers    []struct{ Digest digest.Digest }
		Manifests []struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("decode manifest %s:%s: %w", repo, ref, err)
	}
	for _, child := range m.Manifests {
		if err := pull(base, repo, child.Digest.String()); err != nil {
			return err
		}
	}
	if len(m.Manifests) > 0 {
		return nil
	}
	for _, d := range append([]digest.Digest{m.Config.Digest}, layersOf(m.Layers)...) {
		status, body, _, err := send(http.MethodGet, base+"/v2/"+repo+"/blobs/"+d.String(), "", nil)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("pull blob %s of %s:%s: %d %v", d, repo, ref, status, err)
		}
		if got := digest.FromBytes(body); got != d {
			return fmt.Errorf("blob %s of %s:%s has digest %s", d, repo, ref, got)
		}
	}
	return nil
}

func layersOf(ls []struct{ Digest digest.Digest }) []digest.Digest {
	var out []digest.Digest
	for _, l := range ls {
		out = append(out, l.Digest)
	}
	return out
}

// Paths of the files a collection reads and deletes, under the test's dir.
func blobFile(dir string, d digest.Digest) string {
	return filepath.Join(dir, "docker/registry/v2/blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

func layerLink(dir, repo string, d digest.Digest) string {
	return filepath.Join(dir, "docker/registry/v2/repositories", repo, "_layers", d.Algorithm().String(), d.Encoded(), "link")
}

func revisionLink(dir, repo string, d digest.Digest) string {
	return filepath.Join(dir, "docker/registry/v2/repositories", repo, "_manifests/revisions", d.Algorithm().String(), d.Encoded(), "link")
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// age sets the modification time of paths to ago in the past.
func age(t *testing.T, ago time.Duration, paths ...string) {
	t.Helper()
	when := time.Now().Add(-ago)
	for _, p := range paths {
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

func collect(t *testing.T, reg *Registry, grace time.Duration) GCStats {
	t.Helper()
	stats, err := reg.CollectGarbage(t.Context(), grace)
	if err != nil {
		t.Fatalf("CollectGarbage(%v): %v", grace, err)
	}
	return stats
}

func TestCollectGarbageUntagged(t *testing.T) {
	dir := t.TempDir()
	reg, base := newTestRegistryIn(t, dir)
	ctx := t.Context()

	shared, cross := []byte("shared base layer"), []byte("layer another repository also uses")
	a := image{config: []byte(`{"os":"linux","n":"a"}`), layers: [][]byte{shared, []byte("a's own layer")}}
	b := image{config: []byte(`{"os":"linux","n":"b"}`), layers: [][]byte{shared, []byte("b's own layer"), cross}}
	other := image{config: []byte(`{"os":"linux","n":"other"}`), layers: [][]byte{cross}}
	da := mustPutImage(t, base, "team/app", "a", a)
	db := mustPutImage(t, base, "team/app", "b", b)
	mustPutImage(t, base, "other", "v1", other)
	if err := reg.Untag(ctx, "team/app", "b"); err != nil {
		t.Fatal(err)
	}

	// Everything is younger than an hour: nothing goes.
	if got := collect(t, reg, time.Hour); got != (GCStats{}) {
		t.Fatalf("stats with a large grace = %+v, want nothing deleted", got)
	}
	for _, d := range append(b.blobs(), db) {
		if !exists(t, blobFile(dir, d)) {
			t.Fatalf("blob %s deleted within the grace period", d)
		}
	}

	got := collect(t, reg, 0)
	bOnly := []digest.Digest{db, digest.FromBytes(b.config), digest.FromBytes(b.layers[1])}
	for _, d := range bOnly {
		if exists(t, blobFile(dir, d)) {
			t.Errorf("blob %s of the untagged image survived", d)
		}
	}
	freed := int64(len(b.manifest()) + len(b.config) + len(b.layers[1]))
	if want := (GCStats{Manifests: 1, Blobs: 3, Bytes: freed}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	if exists(t, revisionLink(dir, "team/app", db)) || exists(t, layerLink(dir, "team/app", digest.FromBytes(b.layers[1]))) {
		t.Error("links to what was deleted survived")
	}
	if status, _, _, _ := send(http.MethodGet, base+"/v2/team/app/manifests/"+db.String(), "", nil); status != http.StatusNotFound {
		t.Errorf("GET deleted manifest: status %d, want 404", status)
	}
	for _, d := range bOnly[1:] {
		if status, _, _, _ := send(http.MethodHead, base+"/v2/team/app/blobs/"+d.String(), "", nil); status != http.StatusNotFound {
			t.Errorf("HEAD deleted blob %s: status %d, want 404", d, status)
		}
	}
	// The shared layer, the layer another repository uses and the tagged
	// image all stay.
	for _, d := range append(a.blobs(), da, digest.FromBytes(cross)) {
		if !exists(t, blobFile(dir, d)) {
			t.Errorf("blob %s still referenced was deleted", d)
		}
	}
	verifyPull(t, base, "team/app", "a")
	verifyPull(t, base, "other", "v1")
	if d, err := reg.Digest(ctx, "team/app", "a"); err != nil || d != da.String() {
		t.Errorf("Digest(a) = %q, %v; want %s", d, err, da)
	}

	if again := collect(t, reg, 0); again != (GCStats{}) {
		t.Errorf("second collection = %+v, want nothing left to delete", again)
	}
	// What was collected can be pushed again.
	mustPutImage(t, base, "team/app", "b", b)
	verifyPull(t, base, "team/app", "b")
}

func TestCollectGarbageGrace(t *testing.T) {
	dir := t.TempDir()
	reg, base := newTestRegistryIn(t, dir)

	// A blob whose manifest has not arrived yet, as in a push in flight.
	orphan := []byte("uploaded, manifest still to come")
	d := digest.FromBytes(orphan)
	if err := putBlob(base, "app", orphan); err != nil {
		t.Fatal(err)
	}
	age(t, 10*time.Minute, layerLink(dir, "app", d))
	if got := collect(t, reg, 5*time.Minute); got.Blobs != 0 || !exists(t, blobFile(dir, d)) {
		t.Fatalf("blob with fresh data deleted (stats %+v)", got)
	}
	age(t, 10*time.Minute, blobFile(dir, d))
	if got := collect(t, reg, time.Hour); got.Blobs != 0 || !exists(t, blobFile(dir, d)) {
		t.Fatalf("blob 10 minutes old deleted with a grace of an hour (stats %+v)", got)
	}
	if got := collect(t, reg, 5*time.Minute); got != (GCStats{Blobs: 1, Bytes: int64(len(orphan))}) || exists(t, blobFile(dir, d)) {
		t.Fatalf("blob 10 minutes old kept with a grace of 5 minutes (stats %+v)", got)
	}

	// An old blob uploaded again (or mounted) has a fresh link but old
	// data; the link protects it.
	if err := putBlob(base, "app", orphan); err != nil {
		t.Fatal(err)
	}
	age(t, 10*time.Minute, blobFile(dir, d))
	if got := collect(t, reg, 5*time.Minute); got.Blobs != 0 || !exists(t, blobFile(dir, d)) {
		t.Fatalf("old blob with a fresh link deleted (stats %+v)", got)
	}
	age(t, 10*time.Minute, layerLink(dir, "app", d))
	if got := collect(t, reg, 5*time.Minute); got.Blobs != 1 {
		t.Fatalf("old blob with an old link kept (stats %+v)", got)
	}

	// An untagged manifest written lately keeps itself and its blobs,
	// however old they are: an index's children are pushed by digest
	// before the index.
	im := image{config: []byte(`{"os":"linux"}`), layers: [][]byte{[]byte("child layer")}}
	m := mustPutImage(t, base, "app", "", im)
	var files []string
	for _, b := range append(im.blobs(), m) {
		files = append(files, blobFile(dir, b))
	}
	for _, b := range im.blobs() {
		files = append(files, layerLink(dir, "app", b))
	}
	age(t, 2*time.Hour, files...)
	if got := collect(t, reg, time.Hour); got != (GCStats{}) {
		t.Fatalf("young untagged manifest collected (stats %+v)", got)
	}
	verifyPull(t, base, "app", m.String())
	age(t, 2*time.Hour, revisionLink(dir, "app", m))
	if got := collect(t, reg, time.Hour); got.Manifests != 1 || got.Blobs != 3 {
		t.Fatalf("old untagged manifest: stats %+v, want 1 manifest and 3 blobs", got)
	}
}

func TestCollectGarbageKeepsIndexChildren(t *testing.T) {
	dir := t.TempDir()
	reg, base := newTestRegistryIn(t, dir)

	amd := image{config: []byte(`{"architecture":"amd64","os":"linux"}`), layers: [][]byte{[]byte("amd64 layer")}}
	arm := image{config: []byte(`{"architecture":"arm64","os":"linux"}`), layers: [][]byte{[]byte("arm64 layer")}}
	dAmd := mustPutImage(t, base, "app", "", amd)
	dArm := mustPutImage(t, base, "app", "", arm)
	index := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"manifests":[`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		ociIndex, ociManifest, dAmd, len(amd.manifest()), ociManifest, dArm, len(arm.manifest()))
	dIndex, err := putManifest(base, "app", "multi", ociIndex, index)
	if err != nil {
		t.Fatal(err)
	}

	if got := collect(t, reg, 0); got != (GCStats{}) {
		t.Fatalf("collection with a tagged index = %+v, want nothing deleted", got)
	}
	verifyPull(t, base, "app", "multi")

	if err := reg.Untag(t.Context(), "app", "multi"); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reg, 0); got.Manifests != 3 || got.Blobs != 7 {
		t.Fatalf("collection after untagging the index = %+v, want 3 manifests and 7 blobs", got)
	}
	for _, d := range append(append(amd.blobs(), arm.blobs()...), dAmd, dArm, dIndex) {
		if exists(t, blobFile(dir, d)) {
			t.Errorf("blob %s survived", d)
		}
	}
}

// A manifest put waits while a collection holds the registry, so no tag
// can start pointing at a blob between its mark and its sweep.
func TestManifestPutWaitsForCollection(t *testing.T) {
	reg, base := newTestRegistry(t)
	im := image{config: []byte(`{"os":"linux"}`), layers: [][]byte{[]byte("layer")}}
	for _, b := range append([][]byte{im.config}, im.layers...) {
		if err := putBlob(base, "app", b); err != nil {
			t.Fatal(err)
		}
	}
	reg.gc.Lock()
	done := make(chan error, 1)
	go func() {
		_, err := putManifest(base, "app", "v1", ociManifest, im.manifest())
		done <- err
	}()
	select {
	case err := <-done:
		reg.gc.Unlock()
		t.Fatalf("manifest put finished during a collection (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	reg.gc.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	verifyPull(t, base, "app", "v1")
}

// Pushes race collections run every few milliseconds with a grace that
// slow pushes can outlast. A push may then fail (its blobs collected before its
// manifest arrived), but every tag that exists afterwards must pull whole,
// and what was untagged must go.
func TestCollectGarbageDuringPushes(t *testing.T) {
	reg, base := newTestRegistry(t)
	const grace = 300 * time.Millisecond
	stop := make(chan struct{})
	type result struct {
		runs  int
		stats GCStats
		err   error
	}
	gcDone := make(chan result, 1)
	go func() {
		var res result
		for {
			select {
			case <-stop:
				gcDone <- res
				return
			case <-time.After(2 * time.Millisecond):
			}
			stats, err := reg.CollectGarbage(t.Context(), grace)
			if err != nil {
				res.err = err
				gcDone <- res
				return
			}
			res.runs++
			res.stats.Manifests += stats.Manifests
			res.stats.Blobs += stats.Blobs
		}
	}()
	shared := []byte("base layer every push shares")
	pushed, failed := 0, 0
	for i := range 20 {
		im := image{config: fmt.Appendf(nil, `{"os":"linux","n":%d}`, i), layers: [][]byte{shared, fmt.Appendf(nil, "layer %d", i)}}
		tag := fmt.Sprintf("v%d", i)
		if _, err := putImage(base, "app", tag, im); err != nil {
			failed++
			continue
		}
		pushed++
		if pushed%2 == 0 {
			if err := reg.Untag(t.Context(), "app", tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(2 * grace) // let the last untagged image age past grace
	close(stop)
	res := <-gcDone
	if res.err != nil {
		t.Fatalf("collection failed: %v", res.err)
	}
	t.Logf("%d collections deleted %+v; %d pushes succeeded, %d failed", res.runs, res.stats, pushed, failed)
	if pushed < 5 || res.stats.Manifests == 0 {
		t.Fatalf("the race was not exercised: %d pushes succeeded, collections deleted %+v", pushed, res.stats)
	}
	tags, err := reg.Tags(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != pushed-pushed/2 {
		t.Errorf("%d tags left, want %d", len(tags), pushed-pushed/2)
	}
	for _, tag := range tags {
		verifyPull(t, base, "app", tag)
	}
	// Every untagged image is gone by now: one more collection finds
	// only what the last runs may have left within grace.
	if got := collect(t, reg, 0); got.Manifests > 1 {
		t.Errorf("final collection deleted %d manifests; the concurrent ones missed untagged images", got.Manifests)
	}
	for _, tag := range tags {
		verifyPull(t, base, "app", tag)
	}
}
