package starter

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// TestGoCRUDBuildsAndRuns does what a deploy does to a fresh go-crud
// scaffold up to the image build: runs build.yml's commands on the host
// the way the pipeline does (sh, clean environment), checks the result is
// a static Linux binary, then runs it and talks to it over real HTTP. The
// image build itself is covered with the pipeline, against real Docker.
func TestGoCRUDBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the starter app")
	}
	dir := t.TempDir()
	if _, err := Scaffold(dir, "e2e-app", "go-crud"); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv(t)

	spec, err := os.ReadFile(filepath.Join(dir, "build.yml"))
	if err != nil {
		t.Fatal(err)
	}
	vars, commands := parseBuildspec(t, string(spec))
	for _, c := range commands {
		cmd := exec.Command("sh", "-c", c)
		cmd.Dir = dir
		cmd.Env = append(append([]string{}, env...), vars...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build.yml command %q: %v\n%s", c, err, out)
		}
	}
	app := filepath.Join(dir, "app")
	assertStaticLinux(t, app)

	// The scaffold is its own module; its tests must pass there too.
	cmd := exec.Command("go", "test", "./...")
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in the scaffold: %v\n%s", err, out)
	}

	if runtime.GOOS != "linux" {
		t.Skip("build.yml builds for Linux; cannot run it on " + runtime.GOOS)
	}
	runApp(t, app)
}

// runApp starts the binary on a free port and exercises it.
func runApp(t *testing.T, app string) {
	port := freePort(t)
	var stdout testutil.SyncBuffer
	cmd := exec.Command(app)
	cmd.Env = []string{"PORT=" + port, "TEST_ENV_VAR=from e2e"}
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})

	base := "http://127.0.0.1:" + port
	waitReady(t, base+"/ping", exited, &stdout)

	c := client{t: t, base: base}
	if status, body := c.do("GET", "/ping", ""); status != 200 || body != "pong" {
		t.Fatalf("/ping = %d %q", status, body)
	}
	if status, body := c.do("GET", "/env-var", ""); status != 200 || body != "from e2e" {
		t.Errorf("/env-var = %d %q", status, body)
	}

	type item struct{ ID, Title, Content string }
	var created item
	status, body := c.do("POST", "/local-item", `{"title":"a","content":"b"}`)
	if status != 201 || json.Unmarshal([]byte(body), &created) != nil || created.ID == "" {
		t.Fatalf("POST = %d %q", status, body)
	}
	if status, body := c.do("PUT", "/local-item/"+created.ID, `{"title":"c","content":"d"}`); status != 200 {
		t.Fatalf("PUT = %d %q", status, body)
	}
	var list []item
	status, body = c.do("GET", "/local-item", "")
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil ||
		len(list) != 1 || list[0] != (item{created.ID, "c", "d"}) {
		t.Fatalf("GET list = %d %q", status, body)
	}
	if status, body := c.do("DELETE", "/local-item/"+created.ID, ""); status != 204 {
		t.Fatalf("DELETE = %d %q", status, body)
	}
	if status, _ := c.do("GET", "/local-item/"+created.ID, ""); status != 404 {
		t.Errorf("GET after DELETE = %d, want 404", status)
	}

	// SIGTERM is what `docker stop` sends; the app must exit cleanly and
	// promptly rather than wait to be killed.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("app exited with %v after SIGTERM, want status 0\n%s", err, stdout.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("app still running 5s after SIGTERM\n%s", stdout.String())
	}
	if logs := stdout.String(); !strings.Contains(logs, `"path":"/ping","status":200`) || !strings.Contains(logs, "shutting down") {
		t.Errorf("missing request or shutdown log lines:\n%s", logs)
	}
}

// cleanEnv mirrors the pipeline's build environment: PATH and HOME only,
// plus GOCACHE so the test reuses the warm build cache.
func cleanEnv(t *testing.T) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err) // go test puts GOROOT/bin on PATH
	}
	cache := os.Getenv("GOCACHE")
	if cache == "" {
		out, err := exec.Command(goBin, "env", "GOCACHE").Output()
		if err != nil {
			t.Fatalf("go env GOCACHE: %v", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOCACHE=" + cache}
}

// parseBuildspec pulls env.variables and the build commands out of the
// starter's build.yml. It understands only that file's simple layout (no
// quoting beyond "..."); the real parser lives with the pipeline.
func parseBuildspec(t *testing.T, src string) (vars, commands []string) {
	t.Helper()
	section := ""
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		switch {
		case strings.HasSuffix(trimmed, ":") && !strings.HasPrefix(trimmed, "- "):
			section = strings.TrimSuffix(trimmed, ":")
		case section == "variables" && strings.HasPrefix(line, "    "):
			k, v, _ := strings.Cut(trimmed, ":")
			vars = append(vars, k+"="+strings.Trim(strings.TrimSpace(v), `"`))
		case section == "commands" && strings.HasPrefix(trimmed, "- "):
			commands = append(commands, strings.TrimPrefix(trimmed, "- "))
		}
	}
	if len(commands) == 0 {
		t.Fatalf("no commands found in build.yml:\n%s", src)
	}
	return vars, commands
}

// assertStaticLinux checks that p is a Linux executable with no dynamic
// loader and no shared libraries: a FROM scratch image has neither.
func assertStaticLinux(t *testing.T, p string) {
	t.Helper()
	f, err := elf.Open(p)
	if err != nil {
		t.Fatalf("%s is not an ELF (Linux) binary: %v", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has an ELF interpreter)", p)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", p, libs)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func waitReady(t *testing.T, url string, exited <-chan error, logs *testutil.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("app exited early: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("app not answering %s after 10s\n%s", url, logs.String())
}

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}
