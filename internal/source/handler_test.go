package source

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newHandlerRemote builds a Remote for HTTP-level tests that never run git
// (none of these requests reaches a repository).
func newHandlerRemote(t *testing.T, token func(string) bool) *Remote {
	t.Helper()
	r, err := New(Config{Dir: t.TempDir(), Token: token, Logger: testLogger(t)})
	if err != nil {
		if testing.Short() {
			t.Skipf("no git: %v", err)
		}
		t.Fatal(err)
	}
	return r
}

func serve(h http.Handler, method, path, user, password string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerRequiresToken(t *testing.T) {
	const path = "/git/app.git/info/refs?service=git-upload-pack"
	acceptsAnything := func(string) bool { return true }
	tests := []struct {
		name           string
		token          func(string) bool
		user, password string
	}{
		{name: "no credentials", token: checkTestToken},
		{name: "wrong token", token: checkTestToken, user: "u", password: "nope"},
		{name: "empty password is never checked", token: acceptsAnything, user: "u"},
		{name: "nil Token denies all", token: nil, user: "u", password: testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandlerRemote(t, tt.token).Handler()
			rec := serve(h, http.MethodGet, path, tt.user, tt.password)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401 (body %q)", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="slipway"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
		})
	}
}

func TestHandlerRejectsBadRequests(t *testing.T) {
	r := newHandlerRemote(t, checkTestToken)
	h := r.Handler()
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/git/app.git/info/refs?service=git-upload-pack", 404, `unknown stack "app"`},
		{http.MethodPost, "/git/app.git/git-receive-pack", 404, `unknown stack "app"`},
		{http.MethodGet, "/git/Bad_Name.git/info/refs?service=git-upload-pack", 404, "invalid stack name"},
		{http.MethodGet, "/git/app.git/HEAD", 404, "not a git endpoint"},
		{http.MethodGet, "/git/app.git/objects/info/packs", 404, "not a git endpoint"},
		{http.MethodGet, "/git/a%2Fb.git/info/refs?service=git-upload-pack", 404, "not a git endpoint"},
		{http.MethodGet, "/git/app.git/info/refs", 403, "smart HTTP"},
		{http.MethodPost, "/git/app.git/info/refs?service=git-upload-pack", 405, "method not allowed"},
		{http.MethodGet, "/git/app.git/git-upload-pack", 405, "method not allowed"},
	}
	for _, tt := range tests {
		rec := serve(h, tt.method, tt.path, "u", testToken)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
	// Nothing above may create anything under Dir.
	entries, _ := os.ReadDir(r.dir)
	if len(entries) != 0 {
		t.Fatalf("requests created %v in %s", entries, r.dir)
	}
}

func TestEnsureAndRemove(t *testing.T) {
	g := newGitClient(t)
	r, err := New(Config{Dir: filepath.Join(t.TempDir(), "repos"), Token: checkTestToken, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure("Bad_Name"); err == nil || !strings.Contains(err.Error(), "invalid stack name") {
		t.Fatalf("Ensure(Bad_Name) = %v, want an invalid-name error", err)
	}
	for range 2 {
		if err := r.Ensure("app"); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	repo := filepath.Join(r.dir, "app.git")
	for key, want := range map[string]string{
		"core.bare":                   "true",
		"receive.denyNonFastForwards": "false",
		"http.receivepack":            "true",
	} {
		if got := strings.TrimSpace(g.must("", "--git-dir", repo, "config", key)); got != want {
			t.Errorf("config %s = %q, want %q", key, got, want)
		}
	}
	if got := strings.TrimSpace(g.must("", "--git-dir", repo, "symbolic-ref", "HEAD")); got != "refs/heads/main" {
		t.Errorf("HEAD = %q, want refs/heads/main", got)
	}
	entries, _ := os.ReadDir(r.dir)
	if len(entries) != 1 {
		t.Errorf("Dir holds %v, want only app.git", entries)
	}
	for range 2 {
		if err := r.Remove("app"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if _, err := os.Stat(repo); !os.IsNotExist(err) {
		t.Fatalf("repository still there after Remove: %v", err)
	}
	if err := r.Remove("../x"); err == nil {
		t.Fatal("Remove(../x) succeeded")
	}
}
