package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerPushPull drives the stock docker CLI and the real daemon against
// the registry: login, push, pull back, and a refused push. The daemon
// treats 127.0.0.0/8 registries as insecure, so plain HTTP is enough.
func TestDockerPushPull(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Docker daemon; skipped with -short")
	}
	requireDocker(t)

	reg, base := newTestRegistry(t) // httptest listens on 127.0.0.1:0
	host := strings.TrimPrefix(base, "http://")

	repo := "slipway-regtest-" + randomHex(t)
	local := repo + ":src"
	ref := host + "/" + repo + ":v1"
	t.Cleanup(func() {
		// Best effort: images may already be gone.
		_ = exec.Command("docker", "rmi", "-f", local, ref, host+"/"+repo+":v2").Run()
	})

	// A FROM scratch image needs nothing from the internet. The file's
	// random content keeps the digest unique to this run.
	buildDir := t.TempDir()
	writeFile(t, filepath.Join(buildDir, "Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n")
	writeFile(t, filepath.Join(buildDir, "hello.txt"), "hello from "+repo+"\n")
	docker(t, nil, "", "build", "-q", "-t", local, buildDir)

	cfg := dockerConfig(t, "")
	docker(t, cfg, testToken, "login", host, "-u", "slipway", "--password-stdin")
	docker(t, cfg, "", "tag", local, ref)
	out := docker(t, cfg, "", "push", ref)
	m := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", out)
	}
	pushed := m[1]

	if tags, err := reg.Tags(t.Context(), repo); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("Tags after push = %v, %v; want [v1]", tags, err)
	}
	if got, err := reg.Digest(t.Context(), repo, "v1"); err != nil || got != pushed {
		t.Fatalf("Digest after push = %q, %v; docker printed %q", got, err, pushed)
	}

	docker(t, cfg, "", "rmi", ref)
	out = docker(t, cfg, "", "pull", ref)
	if !strings.Contains(out, "Digest: "+pushed) {
		t.Fatalf("docker pull did not report digest %s:\n%s", pushed, out)
	}
	repoDigests := docker(t, cfg, "", "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	if !strings.Contains(repoDigests, host+"/"+repo+"@"+pushed) {
		t.Fatalf("pulled image RepoDigests = %s, want %s@%s", repoDigests, repo, pushed)
	}

	// A wrong password is refused at login and at push.
	if out, err := dockerErr(cfg, "wrong-password", "login", host, "-u", "slipway", "--password-stdin"); err == nil {
		t.Fatalf("docker login with a wrong password succeeded:\n%s", out)
	}
	badAuth := base64.StdEncoding.EncodeToString([]byte("slipway:wrong-password"))
	bad := dockerConfig(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, badAuth))
	ref2 := host + "/" + repo + ":v2"
	docker(t, bad, "", "tag", local, ref2)
	out, err := dockerErr(bad, "", "push", ref2)
	if err == nil {
		t.Fatalf("docker push with a wrong password succeeded:\n%s", out)
	}
	t.Logf("refused push, as wanted:\n%s", out)
	if !strings.Contains(strings.ToLower(out), "unauthorized") && !strings.Contains(out, "authentication required") {
		t.Errorf("refused push did not say why (want unauthorized):\n%s", out)
	}
	if tags, _ := reg.Tags(t.Context(), repo); !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("Tags after refused push = %v, want [v1]", tags)
	}
}

// requireDocker fails the test loudly when docker is missing: the full
// suite is meant to run against a real daemon, and a silent skip would
// hide that it never did.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("docker CLI not found in PATH: this test needs the docker CLI and a running daemon (run with -short to skip it)")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("Docker daemon not reachable (docker version: %v): this test needs a running daemon (run with -short to skip it)\n%s", err, out)
	}
}

// dockerConfig makes a DOCKER_CONFIG dir, with config.json content if any,
// so logins never touch the user's own credentials.
func dockerConfig(t *testing.T, configJSON string) []string {
	t.Helper()
	dir := t.TempDir()
	if configJSON != "" {
		writeFile(t, filepath.Join(dir, "config.json"), configJSON)
	}
	return []string{"DOCKER_CONFIG=" + dir}
}

// docker runs the docker CLI and fails the test on error; it returns
// combined output.
func docker(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	out, err := dockerErr(env, stdin, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerErr(env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	// The legacy builder needs no buildx plugin and pulls nothing for
	// FROM scratch.
	cmd.Env = append(append(os.Environ(), "DOCKER_BUILDKIT=0"), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
