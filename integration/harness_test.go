// Package integration holds black-box tests: they build the slipway
// binary, run its server on 127.0.0.1:0 ports in a temp data dir, and
// drive it with the CLI, the stock docker CLI and plain HTTP, against the
// real Docker daemon. They need Docker, git and Go; under -short they are
// skipped, otherwise a missing daemon fails them loudly.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/credentials"
)

var binary string // built once in TestMain

func TestMain(m *testing.M) {
	flagShort := false
	for _, a := range os.Args {
		if a == "-test.short" || a == "-test.short=true" {
			flagShort = true
		}
	}
	if flagShort {
		fmt.Println("integration: skipped under -short (needs Docker)")
		os.Exit(0)
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration tests need a running Docker daemon and the docker CLI: %v\n%s", err, out)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "slipway-it-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "slipway")
	args := []string{"build", "-o", binary}
	if os.Getenv("SLIPWAY_IT_RACE") != "" {
		args = append(args, "-race") // the server under test with the race detector
	}
	build := exec.Command("go", append(args, "../cmd/slipway")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build slipway:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `slipway server` process.
type server struct {
	t         *testing.T
	args      []string // extra server flags
	dataDir   string
	namespace string
	cmd       *exec.Cmd
	api       string // http://127.0.0.1:port
	gateway   string // 127.0.0.1:port
	registry  string // 127.0.0.1:port
	token     string
	logs      *syncBuffer
	exited    chan struct{}
}

var readyRE = regexp.MustCompile(`msg="slipway server ready".* api=(\S+) gateway=(\S+) registry=(\S+)`)

// startServer starts a server on ephemeral loopback ports in a fresh
// namespace, cleaning up its containers, networks and images at the end.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), namespace: "it" + randHex(4), args: args}
	s.start()
	t.Cleanup(func() {
		s.stop()
		cleanupDocker(s.namespace, s.registry)
	})
	return s
}

// start (re)starts the server process on its data dir.
func (s *server) start() {
	t := s.t
	t.Helper()
	s.logs = &syncBuffer{}
	s.exited = make(chan struct{})
	s.cmd = exec.Command(binary, "server", "--data-dir", s.dataDir, "--api-addr", "127.0.0.1:0",
		"--gateway-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--namespace", s.namespace)
	s.cmd.Args = append(s.cmd.Args, s.args...)
	s.cmd.Env = append(os.Environ(), "SLIPWAY_LOG_LEVEL=info")
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			if m := readyRE.FindStringSubmatch(line); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.cmd.Wait(); close(s.exited) }()
	select {
	case m := <-ready:
		s.api, s.gateway, s.registry = m[1], m[2], m[3]
	case <-s.exited:
		t.Fatalf("server exited before it was ready:\n%s", s.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("server not ready after 60s:\n%s", s.logs)
	}
	creds, err := credentials.Read(credentials.Path(s.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	s.token = creds[credentials.Token]
	if creds[credentials.Server] != s.api {
		t.Fatalf("credentials file names server %q, server says %q", creds[credentials.Server], s.api)
	}
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("server did not stop within 30s of SIGTERM:\n%s", s.logs)
	}
	if logs := s.logs.String(); strings.Contains(logs, "WARNING: DATA RACE") {
		i := strings.Index(logs, "WARNING: DATA RACE")
		s.t.Errorf("the server (built with -race) reported a data race:\n%s", logs[i:min(len(logs), i+6000)])
	}
}

// result of a CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the slipway CLI against s (found through its data dir's
// credentials file, as a user's CLI would).
func (s *server) run(dir string, args ...string) result {
	s.t.Helper()
	return runCLI(s.t, dir, []string{"SLIPWAY_DATA_DIR=" + s.dataDir}, args...)
}

func runCLI(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run slipway %v: %v", args, err)
	}
	return r
}

// mustRun fails the test unless the CLI exits 0.
func (s *server) mustRun(dir string, args ...string) result {
	s.t.Helper()
	r := s.run(dir, args...)
	if r.code != 0 {
		s.t.Fatalf("slipway %s: exit %d\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr, s.logs.Tail(40))
	}
	return r
}

// cleanEnv drops SLIPWAY_* so the test machine's settings cannot leak in.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLIPWAY_") {
			env = append(env, kv)
		}
	}
	return env
}

// get sends a request through the gateway with the given Host.
func (s *server) gw(method, host, path, body string) (int, string, http.Header) {
	s.t.Helper()
	return s.gwHeaders(method, host, path, body, nil)
}

// gwHeaders is gw with request headers.
func (s *server) gwHeaders(method, host, path, body string, headers map[string]string) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.gateway+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = host
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s%s through the gateway: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// cleanupDocker removes everything a test server created.
func cleanupDocker(namespace, registry string) {
	label := "label=io.slipway.namespace=" + namespace
	if ids, _ := exec.Command("docker", "ps", "-aq", "--filter", label).Output(); len(bytes.TrimSpace(ids)) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(ids))...)...).Run()
	}
	if ids, _ := exec.Command("docker", "network", "ls", "-q", "--filter", label).Output(); len(bytes.TrimSpace(ids)) > 0 {
		exec.Command("docker", append([]string{"network", "rm"}, strings.Fields(string(ids))...)...).Run()
	}
	if registry != "" {
		out, _ := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
		var refs []string
		for _, ref := range strings.Fields(string(out)) {
			if strings.HasPrefix(ref, registry+"/") {
				refs = append(refs, ref)
			}
		}
		if len(refs) > 0 {
			exec.Command("docker", append([]string{"rmi", "-f"}, refs...)...).Run()
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer is a goroutine-safe log buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns the last n lines.
func (b *syncBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
