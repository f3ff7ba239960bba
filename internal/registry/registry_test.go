package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

const testToken = "test-token-1234"

// newTestRegistry serves a fresh registry over a temp dir and returns it
// with the test server's base URL.
func newTestRegistry(t *testing.T) (*Registry, string) {
	t.Helper()
	return newTestRegistryIn(t, t.TempDir())
}

// newTestRegistryIn is newTestRegistry over dir, for tests that look at
// the files.
func newTestRegistryIn(t *testing.T, dir string) (*Registry, string) {
	t.Helper()
	reg, err := New(t.Context(), Config{
		Dir:      dir,
		Username: "slipway",
		Token: func(p string) bool {
			return subtle.ConstantTimeCompare([]byte(p), []byte(testToken)) == 1
		},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("new registry: %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	return reg, srv.URL
}

// do sends one request, with the right credentials unless user is "-".
func do(t *testing.T, method, rawURL, user, pass, contentType string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if user != "-" {
		req.SetBasicAuth(user, pass)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// Distribution hides OCI manifests from clients that do not ask for them.
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func authed(t *testing.T, method, rawURL, contentType string, body []byte) *http.Response {
	t.Helper()
	return do(t, method, rawURL, "slipway", testToken, contentType, body)
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
	}
}

func TestAuthRequired(t *testing.T) {
	_, base := newTestRegistry(t)
	tests := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"no credentials", "/v2/", "-", "", http.StatusUnauthorized},
		{"wrong password", "/v2/", "slipway", "nope", http.StatusUnauthorized},
		{"wrong user", "/v2/", "admin", testToken, http.StatusUnauthorized},
		{"empty password", "/v2/", "slipway", "", http.StatusUnauthorized},
		{"no credentials on a repository", "/v2/app/tags/list", "-", "", http.StatusUnauthorized},
		{"wrong password on an upload", "/v2/app/blobs/uploads/", "slipway", "nope", http.StatusUnauthorized},
		{"right credentials", "/v2/", "slipway", testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if strings.HasSuffix(tt.path, "/uploads/") {
				method = http.MethodPost
			}
			resp := do(t, method, base+tt.path, tt.user, tt.pass, "", nil)
			wantStatus(t, resp, tt.want)
			if tt.want != http.StatusUnauthorized {
				return
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="slipway"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			var body struct {
				Errors []struct{ Code, Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("decode error body: %v", err)
			}
			if len(body.Errors) != 1 || body.Errors[0].Code != "UNAUTHORIZED" || body.Errors[0].Message == "" {
				t.Errorf("error body = %+v, want one UNAUTHORIZED error with a message", body.Errors)
			}
		})
	}
}

// pushBlob uploads content to repo in two steps (POST, then PUT with the
// digest), the way docker does it for small blobs, and returns its digest.
func pushBlob(t *testing.T, base, repo string, content []byte) string {
	t.Helper()
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
	resp := authed(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	wantStatus(t, resp, http.StatusAccepted)
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("upload location: %v", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	resp = authed(t, http.MethodPut, loc.String(), "application/octet-stream", content)
	wantStatus(t, resp, http.StatusCreated)
	if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
		t.Fatalf("blob digest = %q, want %q", got, digest)
	}
	return digest
}

// pushImage pushes a one-layer OCI image as repo:tag for each tag and
// returns the manifest digest.
func pushImage(t *testing.T, base, repo string, tags ...string) string {
	t.Helper()
	layer := []byte("not really a tar, the registry does not care: " + t.Name())
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerDigest := pushBlob(t, base, repo, layer)
	configDigest := pushBlob(t, base, repo, config)
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		configDigest, len(config), layerDigest, len(layer))
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
	for _, tag := range tags {
		resp := authed(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", manifest)
		wantStatus(t, resp, http.StatusCreated)
		if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
			t.Fatalf("manifest digest = %q, want %q", got, digest)
		}
	}
	return digest
}

func TestPushTagsDigestDelete(t *testing.T) {
	reg, base := newTestRegistry(t)
	ctx := t.Context()

	digest := pushImage(t, base, "team/app", "v1", "latest")

	tags, err := reg.Tags(ctx, "team/app")
	if err != nil || !slices.Equal(tags, []string{"latest", "v1"}) {
		t.Fatalf("Tags = %v, %v; want [latest v1]", tags, err)
	}
	for _, tag := range tags {
		got, err := reg.Digest(ctx, "team/app", tag)
		if err != nil || got != digest {
			t.Fatalf("Digest(%s) = %q, %v; want %q", tag, got, err, digest)
		}
	}
	// What Go reads must be what a client pulls.
	resp := authed(t, http.MethodGet, base+"/v2/team/app/manifests/v1", "", nil)
	wantStatus(t, resp, http.StatusOK)
	if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
		t.Fatalf("pulled digest = %q, want %q", got, digest)
	}

	if _, err := reg.Digest(ctx, "team/app", "v2"); !core.IsNotFound(err) {
		t.Errorf("Digest of a missing tag: err = %v, want not_found", err)
	}
	if _, err := reg.Digest(ctx, "nobody", "v1"); !core.IsNotFound(err) {
		t.Errorf("Digest in a missing repo: err = %v, want not_found", err)
	}
	if tags, err := reg.Tags(ctx, "nobody"); err != nil || tags == nil || len(tags) != 0 {
		t.Errorf("Tags of a missing repo = %#v, %v; want empty, non-nil", tags, err)
	}

	// A second repository shares the blobs; deleting the first must not
	// take them away from it.
	other := pushImage(t, base, "other", "v1")

	if err := reg.DeleteRepository(ctx, "team/app"); err != nil {
		t.Fatalf("DeleteRepository: %v", err)
	}
	if tags, err := reg.Tags(ctx, "team/app"); err != nil || len(tags) != 0 {
		t.Errorf("Tags after delete = %v, %v; want none", tags, err)
	}
	if _, err := reg.Digest(ctx, "team/app", "v1"); !core.IsNotFound(err) {
		t.Errorf("Digest after delete: err = %v, want not_found", err)
	}
	wantStatus(t, authed(t, http.MethodGet, base+"/v2/team/app/manifests/v1", "", nil), http.StatusNotFound)
	if err := reg.DeleteRepository(ctx, "team/app"); err != nil {
		t.Errorf("second DeleteRepository: %v, want nil", err)
	}
	if got, err := reg.Digest(ctx, "other", "v1"); err != nil || got != other {
		t.Fatalf("other repo after delete: Digest = %q, %v; want %q", got, err, other)
	}
	wantStatus(t, authed(t, http.MethodGet, base+"/v2/other/manifests/v1", "", nil), http.StatusOK)

	// The same name can be pushed again after a delete.
	if again := pushImage(t, base, "team/app", "v1"); again != digest {
		t.Errorf("re-push digest = %q, want %q", again, digest)
	}
}

func TestManifestDeleteOverHTTP(t *testing.T) {
	reg, base := newTestRegistry(t)
	digest := pushImage(t, base, "app", "v1", "latest")
	resp := authed(t, http.MethodDelete, base+"/v2/app/manifests/"+url.PathEscape(digest), "", nil)
	wantStatus(t, resp, http.StatusAccepted)
	// Deleting a manifest untags every tag that pointed at it.
	if tags, err := reg.Tags(t.Context(), "app"); err != nil || len(tags) != 0 {
		t.Errorf("Tags after manifest delete = %v, %v; want none", tags, err)
	}
}

func TestInvalidNames(t *testing.T) {
	reg, _ := newTestRegistry(t)
	ctx := t.Context()
	if _, err := reg.Tags(ctx, "Bad/Name"); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("Tags(bad name): err = %v, want invalid", err)
	}
	if _, err := reg.Digest(ctx, "app", "bad tag"); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("Digest(bad tag): err = %v, want invalid", err)
	}
	if err := reg.DeleteRepository(ctx, "../escape"); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("DeleteRepository(../escape): err = %v, want invalid", err)
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	ok := func(string) bool { return true }
	for name, cfg := range map[string]Config{
		"no dir":   {Username: "slipway", Token: ok},
		"no user":  {Dir: t.TempDir(), Token: ok},
		"no token": {Dir: t.TempDir(), Username: "slipway"},
	} {
		if _, err := New(t.Context(), cfg); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

// captureHandler records slog records.
type captureHandler struct{ records chan slog.Record }

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.records <- r:
	default:
	}
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

func TestDistributionLogsAtDebug(t *testing.T) {
	h := captureHandler{records: make(chan slog.Record, 1000)}
	reg, err := New(t.Context(), Config{
		Dir: t.TempDir(), Username: "slipway", Logger: slog.New(h),
		Token: func(p string) bool { return p == testToken },
	})
	if err != nil {
		t.Fatalf("new registry: %v", err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	// An unknown manifest is logged by distribution at error level.
	wantStatus(t, authed(t, http.MethodGet, srv.URL+"/v2/app/manifests/v1", "", nil), http.StatusNotFound)

	// Take what was logged so far without closing the channel: the
	// upload purger, a goroutine of distribution's started by New, logs
	// as it starts, which on a loaded machine can come after the request
	// (CI once saw a send on the closed channel).
	n := 0
	for more := true; more; {
		select {
		case r := <-h.records:
			n++
			if r.Level != slog.LevelDebug {
				t.Errorf("record %q at %v, want debug", r.Message, r.Level)
			}
		default:
			more = false
		}
	}
	if n == 0 {
		t.Error("no distribution log records reached slog")
	}
}

// The upload purger is the app goroutine that does real work; it must stop
// with Close. (go-events' broadcaster goroutine is not stoppable through
// distribution's API and is allowed to stay; see the package report.)
func TestCloseStopsUploadPurger(t *testing.T) {
	reg, _ := newTestRegistry(t)
	if !goroutineRunning("startUploadPurger") {
		t.Fatal("no upload purger goroutine after New; the check below would prove nothing")
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goroutineRunning("startUploadPurger") {
		if time.Now().After(deadline) {
			t.Fatal("upload purger still running 5s after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func goroutineRunning(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}
