package integration

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestExternalRepository: a stack that builds from an external
// repository deploys on a signed GitHub or GitLab webhook, refuses a bad
// signature, and can poll instead.
func TestExternalRepository(t *testing.T) {
	s := startServer(t)
	home := t.TempDir()
	// An "external" repository: a bare repo on disk, fed from a clone.
	upstream := filepath.Join(t.TempDir(), "upstream.git")
	if out, err := git(t, home, home, "init", "-q", "--bare", "-b", "main", upstream); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	app := fixtureApp(t, "ext", "")
	commit := func(msg string) string {
		git(t, app, home, "add", "-A")
		git(t, app, home, "commit", "-qm", msg)
		if out, err := git(t, app, home, "push", "-q", upstream, "main"); err != nil {
			t.Fatalf("push upstream: %v %s", err, out)
		}
		h, _ := git(t, app, home, "rev-parse", "HEAD")
		return h
	}
	git(t, app, home, "init", "-q", "-b", "main")
	first := commit("first")

	r := s.mustRun(home, "stack", "create", "ext", "--repo-url", upstream, "--branch", "main")
	m := regexp.MustCompile(`URL:\s+(\S+)\s+secret:\s+(\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stack create: %q", r.stdout)
	}
	hookURL, secret := m[1], m[2]
	post := func(headers map[string]string, body []byte) int {
		req, _ := http.NewRequest("POST", hookURL, bytes.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sign := func(body []byte, key string) string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	body := []byte(`{"ref":"refs/heads/main"}`)
	if code := post(map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body, "wrong")}, body); code != 401 {
		t.Fatalf("bad signature: %d", code)
	}
	if code := post(map[string]string{"X-GitHub-Event": "push"}, body); code != 401 {
		t.Fatalf("no signature: %d", code)
	}
	time.Sleep(time.Second)
	if st := status(t, s, "ext"); st.LastBuild != nil {
		t.Fatalf("an unsigned webhook started a build: %+v", st.LastBuild)
	}
	if code := post(map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body, secret)}, body); code != 202 {
		t.Fatalf("GitHub webhook: %d", code)
	}
	waitCommit := func(want string) {
		eventually(t, 90*time.Second, "commit "+want[:8]+" serving", func() error {
			st := status(t, s, "ext")
			if b := st.LastBuild; b == nil || b.Commit != want || b.Status != core.BuildSucceeded || st.Stages[0].Status != "serving" {
				return fmt.Errorf("last build %+v", st.LastBuild)
			}
			return nil
		})
	}
	waitCommit(first)

	second := commit("second")
	if code := post(map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}, body); code != 202 {
		t.Fatalf("GitLab webhook: %d", code)
	}
	waitCommit(second)

	// Polling, for hosts that cannot send webhooks: another stack built
	// from a branch whose slipway.yml names it.
	git(t, app, home, "checkout", "-q", "-b", "polled")
	manifest := filepath.Join(app, "slipway.yml")
	b, _ := os.ReadFile(manifest)
	os.WriteFile(manifest, bytes.Replace(b, []byte("name: ext"), []byte("name: polled"), 1), 0o644)
	git(t, app, home, "commit", "-qam", "polled")
	if out, err := git(t, app, home, "push", "-q", upstream, "polled"); err != nil {
		t.Fatalf("push upstream: %v %s", err, out)
	}
	third, _ := git(t, app, home, "rev-parse", "HEAD")
	s.mustRun(home, "stack", "create", "polled", "--repo-url", upstream, "--branch", "polled", "--poll", "5s")
	eventually(t, 90*time.Second, "polled stack deployed", func() error {
		st := status(t, s, "polled")
		if b := st.LastBuild; b == nil || b.Commit != third || b.Status != core.BuildSucceeded {
			return fmt.Errorf("last build %+v", st.LastBuild)
		}
		return nil
	})
	if line := errorLine(t, s.run(home, "stack", "create", "fast", "--repo-url", upstream, "--poll", "1s")); !strings.Contains(line, "too short") {
		t.Fatalf("poll too short: %q", line)
	}
}
