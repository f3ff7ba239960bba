package source

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

const testToken = "s3cret-token"

func checkTestToken(p string) bool {
	return subtle.ConstantTimeCompare([]byte(p), []byte(testToken)) == 1
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// gitClient runs the stock git CLI as a user would, isolated from the
// machine's git configuration and credential helpers.
type gitClient struct {
	t   *testing.T
	env []string
}

func newGitClient(t *testing.T) *gitClient {
	t.Helper()
	if testing.Short() {
		t.Skip("uses the real git CLI; skipped with -short")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("these tests need the stock git CLI on PATH: %v", err)
	}
	home := t.TempDir()
	config := "[user]\n\tname = Slipway Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return &gitClient{t: t, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"LC_ALL=C",
	}}
}

func (g *gitClient) run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = g.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (g *gitClient) must(dir string, args ...string) string {
	g.t.Helper()
	out, err := g.run(dir, args...)
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// workTree makes a fresh repository with one commit and returns its path
// and the commit.
func (g *gitClient) workTree() (string, string) {
	dir := g.t.TempDir()
	g.must(dir, "init", "-q")
	return dir, g.commit(dir, "Dockerfile", "FROM scratch\n")
}

// commit writes file and commits it, returning the new HEAD.
func (g *gitClient) commit(dir, file, content string) string {
	g.t.Helper()
	path := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
	g.must(dir, "add", "-A")
	g.must(dir, "commit", "-q", "-m", "change "+file)
	return g.head(dir)
}

func (g *gitClient) head(dir string) string {
	return strings.TrimSpace(g.must(dir, "rev-parse", "HEAD"))
}

// recorder collects what OnPush reports.
type recorder struct {
	mu     sync.Mutex
	pushes []Push
}

func (r *recorder) add(p Push) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushes = append(r.pushes, p)
}

// take returns and forgets everything reported so far.
func (r *recorder) take() []Push {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pushes
	r.pushes = nil
	return p
}

// fixture is a Remote served on 127.0.0.1 with the stack "app" created.
type fixture struct {
	remote  *Remote
	srv     *httptest.Server
	pushes  *recorder
	chunked atomic.Bool // a receive-pack request arrived chunked
}

func newFixture(t *testing.T) (*fixture, *gitClient) {
	t.Helper()
	g := newGitClient(t)
	f := &fixture{pushes: &recorder{}}
	r, err := New(Config{Dir: t.TempDir(), Token: checkTestToken, OnPush: f.pushes.add, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure("app"); err != nil {
		t.Fatal(err)
	}
	f.remote = r
	mux := http.NewServeMux()
	h := r.Handler()
	mux.Handle(Prefix, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/git-receive-pack") && len(req.TransferEncoding) > 0 {
			f.chunked.Store(true)
		}
		h.ServeHTTP(w, req)
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f, g
}

// url is the remote URL of stack with token embedded, as a user would
// configure it; an empty token leaves credentials out.
func (f *fixture) url(token, stack string) string {
	host := f.srv.Listener.Addr().String()
	if token == "" {
		return "http://" + host + "/git/" + stack + ".git"
	}
	return "http://user:" + token + "@" + host + "/git/" + stack + ".git"
}

func (f *fixture) expectPushes(t *testing.T, want ...Push) {
	t.Helper()
	got := f.pushes.take()
	if !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("OnPush got\n%+v\nwant\n%+v", got, want)
	}
}

func TestPushReportsEachChangedRef(t *testing.T) {
	f, g := newFixture(t)
	url := f.url(testToken, "app")
	work, c1 := g.workTree()
	branch := func(name, old, new string) Push {
		return Push{Stack: "app", Ref: "refs/heads/" + name, Branch: name, Old: old, New: new}
	}

	g.must(work, "push", url, "main")
	f.expectPushes(t, branch("main", ZeroSHA, c1))

	c2 := g.commit(work, "app.txt", "v2")
	g.must(work, "push", url, "main")
	f.expectPushes(t, branch("main", c1, c2))

	out := g.must(work, "push", url, "main")
	if !strings.Contains(out, "Everything up-to-date") {
		t.Fatalf("second identical push said %q", out)
	}
	f.expectPushes(t)

	g.must(work, "checkout", "-q", "-b", "feature")
	c3 := g.commit(work, "feature.txt", "f")
	g.must(work, "push", url, "feature")
	f.expectPushes(t, branch("feature", ZeroSHA, c3))
	if got, err := f.remote.Resolve(t.Context(), "app", "main"); err != nil || got != c2 {
		t.Fatalf("Resolve(main) = %q, %v after pushing another branch; want %s", got, err, c2)
	}

	// Two refs in one push are two Pushes.
	g.must(work, "branch", "b1", c1)
	g.must(work, "branch", "b2", c2)
	g.must(work, "push", url, "b1", "b2")
	f.expectPushes(t, branch("b1", ZeroSHA, c1), branch("b2", ZeroSHA, c2))

	// A non-fast-forward force push is accepted and reported.
	g.must(work, "push", "--force", url, c1+":refs/heads/main")
	f.expectPushes(t, branch("main", c2, c1))

	g.must(work, "push", url, ":feature")
	f.expectPushes(t, branch("feature", c3, ZeroSHA))

	// An annotated tag reports the commit it points at, with no branch.
	g.must(work, "tag", "-a", "-m", "v1", "v1", c2)
	g.must(work, "push", url, "v1")
	f.expectPushes(t, Push{Stack: "app", Ref: "refs/tags/v1", Old: ZeroSHA, New: c2})
}

func TestPushWithoutValidTokenFails(t *testing.T) {
	f, g := newFixture(t)
	work, _ := g.workTree()

	out, err := g.run(work, "push", f.url("wrong", "app"), "main")
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Fatalf("push with a wrong token: err=%v\n%s", err, out)
	}
	out, err = g.run(work, "push", f.url("", "app"), "main")
	if err == nil || !strings.Contains(out, "could not read Username") {
		t.Fatalf("push without credentials: err=%v\n%s", err, out)
	}
	f.expectPushes(t)
	if _, err := f.remote.Resolve(t.Context(), "app", "main"); !core.IsNotFound(err) {
		t.Fatalf("Resolve(main) after refused pushes = %v, want not found", err)
	}
}

func TestPushToUnknownStackFails(t *testing.T) {
	f, g := newFixture(t)
	work, _ := g.workTree()

	out, err := g.run(work, "push", f.url(testToken, "nope"), "main")
	if err == nil || !strings.Contains(out, `unknown stack "nope"`) {
		t.Fatalf("push to an unknown stack: err=%v\n%s", err, out)
	}
	out, err = g.run(work, "push", f.url(testToken, "Bad_Name"), "main")
	if err == nil || !strings.Contains(out, "invalid stack name") {
		t.Fatalf("push to an invalid stack name: err=%v\n%s", err, out)
	}
	f.expectPushes(t)
	if _, err := os.Stat(filepath.Join(f.remote.dir, "nope.git")); !os.IsNotExist(err) {
		t.Fatalf("push created a repository for an unknown stack: %v", err)
	}
}

func TestCloneAndFetchNeedToken(t *testing.T) {
	f, g := newFixture(t)
	work, _ := g.workTree()
	g.must(work, "push", f.url(testToken, "app"), "main")

	clone := filepath.Join(t.TempDir(), "clone")
	g.must("", "clone", "-q", f.url(testToken, "app"), clone)
	if b, err := os.ReadFile(filepath.Join(clone, "Dockerfile")); err != nil || string(b) != "FROM scratch\n" {
		t.Fatalf("cloned Dockerfile = %q, %v", b, err)
	}

	// A later fetch through the clone's origin sees the next push.
	c2 := g.commit(work, "app.txt", "v2")
	g.must(work, "push", f.url(testToken, "app"), "main")
	g.must(clone, "pull", "-q", "--ff-only")
	if got := g.head(clone); got != c2 {
		t.Fatalf("clone HEAD after pull = %s, want %s", got, c2)
	}

	for _, token := range []string{"", "wrong"} {
		out, err := g.run("", "clone", "-q", f.url(token, "app"), filepath.Join(t.TempDir(), "c"))
		if err == nil {
			t.Fatalf("clone with token %q succeeded:\n%s", token, out)
		}
	}
}

func TestResolveAndArchive(t *testing.T) {
	f, g := newFixture(t)
	work, _ := g.workTree()
	g.commit(work, "src/main.go", "package main\n")
	c := g.commit(work, "README.md", "hello\n")
	g.must(work, "tag", "v1")
	g.must(work, "push", f.url(testToken, "app"), "main", "v1")
	ctx := t.Context()

	for _, rev := range []string{"main", "refs/heads/main", "v1", c, c[:10]} {
		if got, err := f.remote.Resolve(ctx, "app", rev); err != nil || got != c {
			t.Errorf("Resolve(%q) = %q, %v; want %s", rev, got, err, c)
		}
	}
	for rev, code := range map[string]core.Code{
		"nope":     core.CodeNotFound,
		"0123abcd": core.CodeNotFound,
		"-h":       core.CodeInvalid,
		"":         core.CodeInvalid,
	} {
		if _, err := f.remote.Resolve(ctx, "app", rev); core.CodeOf(err) != code {
			t.Errorf("Resolve(%q) = %v, want code %s", rev, err, code)
		}
	}
	if _, err := f.remote.Resolve(ctx, "ghost", "main"); !core.IsNotFound(err) {
		t.Errorf("Resolve on a stack without a repository = %v, want not found", err)
	}

	var buf bytes.Buffer
	if err := f.remote.Archive(ctx, "app", c, &buf); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	files, commitID := readTar(t, &buf)
	want := map[string]string{"Dockerfile": "FROM scratch\n", "src/main.go": "package main\n", "README.md": "hello\n"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("archive files = %v, want %v", files, want)
	}
	if commitID != c {
		t.Errorf("archive's pax comment = %q, want the commit %s", commitID, c)
	}
	if err := f.remote.Archive(ctx, "app", "nope", io.Discard); !core.IsNotFound(err) {
		t.Errorf("Archive(nope) = %v, want not found", err)
	}
}

// readTar returns the regular files of a tar and the commit id git
// archive puts in its pax global header.
func readTar(t *testing.T, r io.Reader) (map[string]string, string) {
	t.Helper()
	files := map[string]string{}
	var commitID string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, commitID
		}
		if err != nil {
			t.Fatalf("read archive: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			commitID = h.PAXRecords["comment"]
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = string(b)
		}
	}
}

func TestConcurrentPushesReportedOnce(t *testing.T) {
	f, g := newFixture(t)
	url := f.url(testToken, "app")
	work, base := g.workTree()
	g.must(work, "push", url, "main")
	f.pushes.take()

	// Two clones push three commits each to their own branch, at once.
	const rounds = 3
	branches := []string{"alpha", "beta"}
	commits := make(map[string][]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range branches {
		clone := filepath.Join(t.TempDir(), b)
		g.must("", "clone", "-q", url, clone)
		g.must(clone, "checkout", "-q", "-b", b)
		wg.Go(func() {
			for i := range rounds {
				c := g.commit(clone, b+".txt", fmt.Sprint(i))
				if out, err := g.run(clone, "push", "-q", "origin", b); err != nil {
					t.Errorf("push %s: %v\n%s", b, err, out)
					return
				}
				mu.Lock()
				commits[b] = append(commits[b], c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	got := map[string][]Push{}
	for _, p := range f.pushes.take() {
		got[p.Branch] = append(got[p.Branch], p)
	}
	for _, b := range branches {
		// A client's pushes are sequential and OnPush runs before the
		// request ends, so each branch's reports arrive in order.
		var want []Push
		old := ZeroSHA
		for _, c := range commits[b] {
			want = append(want, Push{Stack: "app", Ref: "refs/heads/" + b, Branch: b, Old: old, New: c})
			old = c
		}
		if !reflect.DeepEqual(got[b], want) {
			t.Errorf("branch %s: OnPush got\n%+v\nwant\n%+v", b, got[b], want)
		}
		delete(got, b)
	}
	if len(got) != 0 {
		t.Errorf("unexpected reports: %+v", got)
	}

	// Racing pushes to the same branch: however git settles the race,
	// every ref change that happened is reported once, chained from base.
	var ok atomic.Int32
	for i := range 2 {
		clone := filepath.Join(t.TempDir(), fmt.Sprint("same", i))
		g.must("", "clone", "-q", url, clone)
		g.commit(clone, fmt.Sprint("same", i), "x")
		wg.Go(func() {
			if _, err := g.run(clone, "push", "-q", "origin", "main"); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	pushes := f.pushes.take()
	if len(pushes) != int(ok.Load()) || len(pushes) == 0 {
		t.Fatalf("%d pushes to main succeeded but OnPush got %+v", ok.Load(), pushes)
	}
	old := base
	for _, p := range pushes {
		if p.Old != old {
			t.Fatalf("reports do not chain from %s: %+v", base, pushes)
		}
		old = p.New
	}
	if head, _ := f.remote.Resolve(t.Context(), "app", "main"); head != old {
		t.Fatalf("main = %s, last report says %s", head, old)
	}
}

func TestLargePushStreams(t *testing.T) {
	f, g := newFixture(t)
	work, _ := g.workTree()
	// Incompressible and above git's 1 MiB http.postBuffer, so the pack
	// is sent with chunked transfer encoding, which net/http/cgi refuses
	// unless the handler works around it.
	blob := make([]byte, 3<<20)
	rand.Read(blob)
	c := g.commit(work, "blob.bin", string(blob))
	g.must(work, "push", f.url(testToken, "app"), "main")
	f.expectPushes(t, Push{Stack: "app", Ref: "refs/heads/main", Branch: "main", Old: ZeroSHA, New: c})
	if !f.chunked.Load() {
		t.Fatal("git did not send the push chunked; the test no longer covers streaming")
	}
	var buf bytes.Buffer
	if err := f.remote.Archive(context.Background(), "app", "main", &buf); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, &buf)
	if files["blob.bin"] != string(blob) {
		t.Fatalf("archived blob.bin has %d bytes, want the %d pushed", len(files["blob.bin"]), len(blob))
	}
}
