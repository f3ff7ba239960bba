package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// testPrefix starts the name of everything the tests create, so leftovers
// from a crashed run are easy to find (docker ps -a --filter name=...).
const testPrefix = "slipway-enginetest-"

// testLabel marks every container the tests create; its value is the
// test's unique name.
const testLabel = "slipway.enginetest"

// fixture holds what is built once per test run and shared: the server
// binary and the image packaging it. They are removed in TestMain, after
// every test that uses them has finished; building the image once (rather
// than per test) keeps the run fast on slow storage drivers and keeps
// parallel tests from racing over shared cached layers.
var fixture struct {
	binOnce sync.Once
	dir     string
	binErr  error

	imageOnce sync.Once
	image     string
	imageErr  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.image != "" {
		if d, err := New(nil); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := d.RemoveImage(ctx, fixture.image); err != nil {
				fmt.Fprintf(os.Stderr, "cleanup: remove fixture image %s: %v\n", fixture.image, err)
				code = 1
			}
			cancel()
			d.Close()
		}
	}
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// requireDocker returns an engine on the local daemon. Under -short it
// skips; otherwise a missing daemon FAILS the test, so CI cannot pass by
// silently skipping everything that touches Docker.
func requireDocker(t *testing.T) *Docker {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker daemon; skipped with -short")
	}
	d, err := New(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("requireDocker: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		t.Fatalf("requireDocker: this test needs a running Docker daemon (run with -short to skip Docker tests): %v", err)
	}
	return d
}

// uniqueName returns a fresh name under testPrefix.
func uniqueName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return testPrefix + hex.EncodeToString(b)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// serverBinary compiles testdata/server once per test run into a static
// binary that can run in a FROM-scratch image.
func serverBinary(t *testing.T) string {
	t.Helper()
	fixture.binOnce.Do(func() {
		fixture.dir, fixture.binErr = os.MkdirTemp("", testPrefix+"bin-")
		if fixture.binErr != nil {
			return
		}
		// go test puts GOROOT/bin first on the PATH of the tests it runs.
		goTool, err := exec.LookPath("go")
		if err != nil {
			fixture.binErr = fmt.Errorf("find the go tool to build the fixture: %w", err)
			return
		}
		cmd := exec.Command(goTool, "build", "-trimpath", "-o", filepath.Join(fixture.dir, "server"), "./testdata/server")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			fixture.binErr = fmt.Errorf("go build testdata/server: %v\n%s", err, out)
		}
	})
	if fixture.binErr != nil {
		t.Fatal(fixture.binErr)
	}
	return filepath.Join(fixture.dir, "server")
}

// tarContext builds an uncompressed tar build context from name → content.
func tarContext(t *testing.T, files map[string][]byte) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}
		if name == "server" || name == "busybox" {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// serverDockerfile packages the fixture. The first COPY brings a file
// unique to each build (see serverContext), so builds in parallel tests
// never share cached layers: the daemon (20.10 at least) races when one
// test prunes a layer that another test's build is reusing.
const serverDockerfile = `FROM scratch
COPY build-id /build-id
COPY server /server
EXPOSE 8080
ENTRYPOINT ["/server"]
`

// serverContext returns a build context holding dockerfile, the fixture
// binary and a unique build-id file.
func serverContext(t *testing.T, dockerfile string) io.Reader {
	t.Helper()
	bin, err := os.ReadFile(serverBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	return tarContext(t, map[string][]byte{
		"Dockerfile": []byte(dockerfile),
		"server":     bin,
		"build-id":   []byte(uniqueName(t)),
	})
}

// serverImage returns the tag of the fixture image, built on first use
// and removed by TestMain.
func serverImage(t *testing.T, d *Docker) string {
	t.Helper()
	fixture.imageOnce.Do(func() {
		tag := uniqueName(t) + ":fixture"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, fixture.imageErr = d.BuildImage(ctx, engine.BuildOptions{Context: serverContext(t, serverDockerfile), Tags: []string{tag}}, nil)
		fixture.image = tag // set even on failure, so TestMain cleans up a partial tag
	})
	if fixture.imageErr != nil {
		t.Fatalf("build fixture image: %v", fixture.imageErr)
	}
	return fixture.image
}

func removeImage(t *testing.T, d *Docker, ref string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.RemoveImage(ctx, ref); err != nil {
		t.Errorf("cleanup: remove image %s: %v", ref, err)
	}
}

// cleanupNetwork removes a network when the test ends. Cleanups use
// their own context: the test's is already cancelled by then.
func cleanupNetwork(t *testing.T, d *Docker, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.RemoveNetwork(ctx, name); err != nil {
			t.Errorf("cleanup: remove network %s: %v", name, err)
		}
	})
}

// cleanupContainer removes a container when the test ends.
func cleanupContainer(t *testing.T, d *Docker, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.RemoveContainer(ctx, id); err != nil {
			t.Errorf("cleanup: remove container %s: %v", id, err)
		}
	})
}

// ensureTestNetwork creates a uniquely named network removed at the end
// of the test (after the containers on it, as cleanups run last-in
// first-out).
func ensureTestNetwork(t *testing.T, d *Docker) string {
	t.Helper()
	name := uniqueName(t)
	cleanupNetwork(t, d, name)
	if _, err := d.EnsureNetwork(testContext(t), name, map[string]string{testLabel: name}, false); err != nil {
		t.Fatalf("ensure network: %v", err)
	}
	return name
}

// createTestContainer creates a container from spec (filling the name and
// test label when empty), removed at the end of the test.
func createTestContainer(t *testing.T, d *Docker, spec engine.ContainerSpec) string {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniqueName(t)
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{testLabel: spec.Name}
	}
	id, err := d.CreateContainer(testContext(t), spec)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	cleanupContainer(t, d, id)
	return id
}

// startServer builds the fixture, starts it on a fresh network and waits
// until it answers HTTP; it returns the container ID and its base URL.
func startServer(t *testing.T, d *Docker) (id, baseURL string) {
	t.Helper()
	ctx := testContext(t)
	img := serverImage(t, d)
	nw := ensureTestNetwork(t, d)
	id = createTestContainer(t, d, engine.ContainerSpec{Image: img, Network: nw, MemoryBytes: 64 << 20})
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	c, err := d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	baseURL = "http://" + c.IPAddress + ":8080"
	waitHTTP(t, baseURL+"/")
	return id, baseURL
}

// waitHTTP polls url until it answers 200 and returns the body.
func waitHTTP(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s: %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered 200: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func assertCode(t *testing.T, err error, want core.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one with code %s", want)
	}
	if got := core.CodeOf(err); got != want {
		t.Fatalf("got code %s (%v), want %s", got, err, want)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	v, err := d.Ping(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if v.Version == "" || v.APIVersion == "" {
		t.Fatalf("empty version: %+v", v)
	}
	if versions.LessThan(v.APIVersion, minAPIVersion) {
		t.Fatalf("daemon API %s is older than %s", v.APIVersion, minAPIVersion)
	}
	// The client must have negotiated down to the daemon's version (1.41
	// on Docker 20.10), never above it.
	if got := d.cli.ClientVersion(); versions.GreaterThan(got, v.APIVersion) {
		t.Fatalf("client speaks API %s, daemon only %s", got, v.APIVersion)
	}
	t.Logf("docker %s, API %s, client negotiated %s", v.Version, v.APIVersion, d.cli.ClientVersion())
}

// TestUnreachableDaemon needs no daemon: it points DOCKER_HOST at a socket
// that does not exist and checks every method says so, by name.
func TestUnreachableDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-docker.sock")
	t.Setenv(client.EnvOverrideHost, "unix://"+sock)
	t.Setenv("DOCKER_API_VERSION", "")
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	calls := map[string]func() error{
		"Ping": func() error { _, err := d.Ping(ctx); return err },
		"BuildImage": func() error {
			_, err := d.BuildImage(ctx, engine.BuildOptions{Context: strings.NewReader("")}, nil)
			return err
		},
		"PushImage": func() error {
			_, err := d.PushImage(ctx, "localhost:5000/app:1", engine.RegistryAuth{}, nil)
			return err
		},
		"RemoveImage":    func() error { return d.RemoveImage(ctx, "app:1") },
		"EnsureNetwork":  func() error { _, err := d.EnsureNetwork(ctx, "n", nil, false); return err },
		"RemoveNetwork":  func() error { return d.RemoveNetwork(ctx, "n") },
		"NetworkExists":  func() error { _, err := d.NetworkExists(ctx, "n"); return err },
		"ConnectNetwork": func() error { return d.ConnectNetwork(ctx, "n", "c", nil) },
		"Stats":          func() error { _, err := d.Stats(ctx, "c"); return err },
		"Exec": func() error {
			_, err := d.Exec(ctx, "c", []string{"true"}, strings.NewReader(""), io.Discard, io.Discard)
			return err
		},
		"CreateContainer": func() error {
			_, err := d.CreateContainer(ctx, engine.ContainerSpec{Name: "c", Image: "app:1"})
			return err
		},
		"StartContainer":   func() error { return d.StartContainer(ctx, "c") },
		"StopContainer":    func() error { return d.StopContainer(ctx, "c", time.Second) },
		"RemoveContainer":  func() error { return d.RemoveContainer(ctx, "c") },
		"InspectContainer": func() error { _, err := d.InspectContainer(ctx, "c"); return err },
		"ListContainers":   func() error { _, err := d.ListContainers(ctx, nil); return err },
		"Logs":             func() error { _, err := d.Logs(ctx, "c", engine.LogOptions{}); return err },
		"Events": func() error {
			events, errs := d.Events(ctx, nil)
			err := <-errs
			if _, open := <-events; open {
				t.Error("Events: event channel not closed after the error")
			}
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error from an unreachable daemon", name)
			continue
		}
		if got := core.CodeOf(err); got != core.CodeUnavailable {
			t.Errorf("%s: code %s (%v), want %s", name, got, err, core.CodeUnavailable)
		}
		msg := err.Error()
		if !strings.Contains(msg, sock) || !strings.Contains(msg, "DOCKER_HOST") || strings.Contains(msg, "\n") {
			t.Errorf("%s: message should be one line naming %s and DOCKER_HOST, got %q", name, sock, msg)
		}
	}
}

func TestUnreachableDaemonDefaultMessage(t *testing.T) {
	d := &Docker{host: client.DefaultDockerHost}
	err := d.unavailable(fmt.Errorf("dial unix /var/run/docker.sock: connect: no such file or directory"))
	want := "cannot reach the Docker daemon at unix:///var/run/docker.sock: is dockerd running? start it (sudo systemctl start docker) or set DOCKER_HOST"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	assertCode(t, err, core.CodeUnavailable)
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	missing := uniqueName(t)

	_, err := d.InspectContainer(ctx, missing)
	assertCode(t, err, core.CodeNotFound)
	assertCode(t, d.StartContainer(ctx, missing), core.CodeNotFound)
	assertCode(t, d.StopContainer(ctx, missing, time.Second), core.CodeNotFound)
	_, err = d.Logs(ctx, missing, engine.LogOptions{})
	assertCode(t, err, core.CodeNotFound)
	_, err = d.Stats(ctx, missing)
	assertCode(t, err, core.CodeNotFound)
	_, err = d.Exec(ctx, missing, []string{"true"}, nil, nil, nil)
	assertCode(t, err, core.CodeNotFound)
	assertCode(t, d.ConnectNetwork(ctx, missing, missing, nil), core.CodeNotFound)
	if ok, err := d.NetworkExists(ctx, missing); ok || err != nil {
		t.Errorf("NetworkExists(missing) = %v, %v", ok, err)
	}
	_, err = d.CreateContainer(ctx, engine.ContainerSpec{Name: missing, Image: missing + ":nope"})
	assertCode(t, err, core.CodeNotFound)

	// Removing what is not there is not an error.
	if err := d.RemoveContainer(ctx, missing); err != nil {
		t.Errorf("RemoveContainer(missing): %v", err)
	}
	if err := d.RemoveImage(ctx, missing+":nope"); err != nil {
		t.Errorf("RemoveImage(missing): %v", err)
	}
	if err := d.RemoveNetwork(ctx, missing); err != nil {
		t.Errorf("RemoveNetwork(missing): %v", err)
	}
}

func TestCreateOnMissingNetworkIsNotFound(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	img := serverImage(t, d)
	name := uniqueName(t)
	cleanupContainer(t, d, name) // in case it was created after all
	_, err := d.CreateContainer(testContext(t), engine.ContainerSpec{Name: name, Image: img, Network: name + "-nonet"})
	assertCode(t, err, core.CodeNotFound)
}

func networksWithIPs(ips map[string]string) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for name, ip := range ips {
		out[name] = &network.EndpointSettings{IPAddress: netip.MustParseAddr(ip)}
	}
	return out
}

// readAllLogs reads an instance's logs to the end.
func readAllLogs(t *testing.T, d *Docker, id string, opts engine.LogOptions) string {
	t.Helper()
	rc, err := d.Logs(testContext(t), id, opts)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return string(b)
}
