package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// git runs the stock git client in dir with a throwaway home.
func git(t *testing.T, dir, home string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "HOME="+home, "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=it", "GIT_AUTHOR_EMAIL=it@example.com",
		"GIT_COMMITTER_NAME=it", "GIT_COMMITTER_EMAIL=it@example.com")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestGitPushDeploys: `git push` with the stock client to the stack's
// built-in remote builds the commit and releases it to the first stage.
func TestGitPushDeploys(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is needed:", err)
	}
	s := startServer(t)
	work, home := t.TempDir(), t.TempDir()
	r := s.mustRun(work, "stack", "create", "pushed")
	if !strings.Contains(r.stdout, s.api+"/git/pushed.git") {
		t.Fatalf("stack create does not name the remote: %q", r.stdout)
	}
	s.mustRun(work, "init", "pushed")
	app := filepath.Join(work, "pushed")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-qm", "first"}} {
		if out, err := git(t, app, home, args...); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	head, _ := git(t, app, home, "rev-parse", "HEAD")
	remote := strings.Replace(s.api, "http://", "http://slipway:"+s.token+"@", 1) + "/git/pushed.git"
	bad := strings.Replace(s.api, "http://", "http://slipway:wrong@", 1) + "/git/pushed.git"
	if out, err := git(t, app, home, "push", bad, "main"); err == nil {
		t.Fatalf("push with a wrong token succeeded: %s", out)
	}
	if out, err := git(t, app, home, "push", remote, "main"); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	eventually(t, 90*time.Second, "pushed commit serving dev", func() error {
		code, body, _ := s.gw("GET", "dev.pushed.localhost", "/ping", "")
		if code != 200 || body != "pong" {
			return fmt.Errorf("%d %q", code, body)
		}
		return nil
	})
	st := status(t, s, "pushed")
	if b := st.LastBuild; b == nil || b.Commit != head || b.Trigger != "push" || b.Status != core.BuildSucceeded {
		t.Fatalf("build of the push: %+v (want commit %s)", st.LastBuild, head)
	}

	// Another branch is kept but deploys nothing.
	os.WriteFile(filepath.Join(app, "NOTES.txt"), []byte("wip\n"), 0o644)
	git(t, app, home, "checkout", "-qb", "wip")
	git(t, app, home, "add", "-A")
	git(t, app, home, "commit", "-qm", "wip")
	if out, err := git(t, app, home, "push", remote, "wip"); err != nil {
		t.Fatalf("push wip: %v %s", err, out)
	}
	time.Sleep(2 * time.Second)
	if b := status(t, s, "pushed").LastBuild; b.Commit != head {
		t.Fatalf("a push to another branch deployed: %+v", b)
	}
	// Pushes queue: while one builds (build.yml sleeps), a push that
	// waits is superseded by a newer one; only the newest deploys.
	git(t, app, home, "checkout", "-q", "main")
	bs, _ := os.ReadFile(filepath.Join(app, "build.yml"))
	os.WriteFile(filepath.Join(app, "build.yml"), []byte(strings.Replace(string(bs), "commands:\n", "commands:\n      - sleep 2\n", 1)), 0o644)
	var heads []string
	for i := 0; i < 3; i++ {
		os.WriteFile(filepath.Join(app, "COUNT.txt"), []byte(fmt.Sprint(i)), 0o644)
		git(t, app, home, "add", "-A")
		git(t, app, home, "commit", "-qm", fmt.Sprint("queued ", i))
		h, _ := git(t, app, home, "rev-parse", "HEAD")
		heads = append(heads, h)
		if out, err := git(t, app, home, "push", remote, "main"); err != nil {
			t.Fatalf("push %d: %v %s", i, err, out)
		}
	}
	eventually(t, 90*time.Second, "newest push serving", func() error {
		st := status(t, s, "pushed")
		if b := st.LastBuild; b == nil || b.Commit != heads[2] || b.Status != core.BuildSucceeded || st.Stages[0].Release.Commit != heads[2] {
			return fmt.Errorf("last build %+v", st.LastBuild)
		}
		return nil
	})
	var builds []core.Build
	json.Unmarshal([]byte(s.mustRun(app, "builds", "pushed", "-o", "json").stdout), &builds)
	statusOf := map[string]core.BuildStatus{}
	for _, b := range builds {
		statusOf[b.Commit] = b.Status
	}
	if statusOf[heads[1]] != core.BuildSuperseded {
		t.Fatalf("the middle push was not superseded: %v", statusOf)
	}
	// A pushed build can be run again.
	r = s.mustRun(app, "builds", "retry", "pushed", builds[0].ID)
	if !strings.Contains(r.stdout, "Retried "+builds[0].ID+" as b") {
		t.Fatalf("retry: %q", r.stdout)
	}

	// The remote serves clones too, with the token.
	if out, err := git(t, work, home, "clone", "-q", remote, "copy"); err != nil {
		t.Fatalf("git clone: %v %s", err, out)
	}
}
