package docker

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	network := ensureTestNetwork(t, d)
	name := uniqueName(t)
	spec := engine.ContainerSpec{
		Name:          name,
		Image:         img,
		Env:           []string{"GREETING=hello-engine"},
		Labels:        map[string]string{testLabel: name, "slipway.stage": "dev"},
		Network:       network,
		Aliases:       []string{"web", "web-1"},
		MemoryBytes:   64 << 20,
		NanoCPUs:      500_000_000,
		PidsLimit:     64,
		StopTimeout:   1500 * time.Millisecond,
		RestartAlways: true,
	}
	before := time.Now().Add(-time.Second)
	id := createTestContainer(t, d, spec)

	c, err := d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != name || c.State != "created" || c.Running || c.Image != img || c.Labels["slipway.stage"] != "dev" {
		t.Errorf("created container = %+v", c)
	}
	if !c.StartedAt.IsZero() || !c.FinishedAt.IsZero() {
		t.Errorf("never-started container has times %v / %v", c.StartedAt, c.FinishedAt)
	}

	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err = d.InspectContainer(ctx, name) // by name works too
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || !c.Running || c.State != "running" || c.IPAddress == "" || c.StartedAt.Before(before) {
		t.Fatalf("running container = %+v", c)
	}

	// The host reaches the instance on its network address; the env is set.
	base := "http://" + c.IPAddress + ":8080"
	if body := waitHTTP(t, base+"/"); !strings.Contains(body, "greeting=hello-engine") {
		t.Errorf("GET / = %q", body)
	}

	// The security settings are applied, as Docker reports them...
	raw, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertHostConfig(t, raw.Container, spec)

	// ...and as the process sees them.
	status := waitHTTP(t, base+"/status")
	for _, want := range []string{"NoNewPrivs:\t1", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/self/status lacks %q:\n%s", want, status)
		}
	}

	// Stop sends SIGTERM: the server exits 0 by itself, well before grace.
	start := time.Now()
	if err := d.StopContainer(ctx, id, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stop took %v; SIGTERM should have ended it at once", took)
	}
	c, err = d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Running || c.State != "exited" || c.ExitCode != 0 || c.OOMKilled || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("stopped container = %+v", c)
	}
	if logs := readAllLogs(t, d, id, engine.LogOptions{}); !strings.Contains(logs, "shutting down on terminated") {
		t.Errorf("server did not see SIGTERM; logs:\n%s", logs)
	}
	// Stopping again is fine.
	if err := d.StopContainer(ctx, id, time.Second); err != nil {
		t.Errorf("second stop: %v", err)
	}

	// Remove is idempotent.
	for range 2 {
		if err := d.RemoveContainer(ctx, id); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	if _, err := d.InspectContainer(ctx, id); !core.IsNotFound(err) {
		t.Errorf("inspect after remove: %v, want not found", err)
	}
}

func assertHostConfig(t *testing.T, c container.InspectResponse, spec engine.ContainerSpec) {
	t.Helper()
	hc := c.HostConfig
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) != 0 {
		t.Errorf("CapDrop = %q, CapAdd = %q", hc.CapDrop, hc.CapAdd)
	}
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("SecurityOpt = %q", hc.SecurityOpt)
	}
	if hc.Privileged || hc.PublishAllPorts || len(hc.PortBindings) != 0 {
		t.Errorf("Privileged %v, PublishAllPorts %v, PortBindings %v", hc.Privileged, hc.PublishAllPorts, hc.PortBindings)
	}
	if len(c.NetworkSettings.Ports) != 0 {
		for port, bindings := range c.NetworkSettings.Ports {
			if len(bindings) != 0 {
				t.Errorf("port %v published on %v", port, bindings)
			}
		}
	}
	if hc.Memory != spec.MemoryBytes || hc.MemorySwap != spec.MemoryBytes {
		t.Errorf("Memory %d, MemorySwap %d, want both %d", hc.Memory, hc.MemorySwap, spec.MemoryBytes)
	}
	if hc.NanoCPUs != spec.NanoCPUs {
		t.Errorf("NanoCPUs = %d", hc.NanoCPUs)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != spec.PidsLimit {
		t.Errorf("PidsLimit = %v", hc.PidsLimit)
	}
	if hc.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("RestartPolicy = %+v", hc.RestartPolicy)
	}
	if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "10m" || hc.LogConfig.Config["max-file"] != "3" {
		t.Errorf("LogConfig = %+v", hc.LogConfig)
	}
	if c.Config.StopTimeout == nil || *c.Config.StopTimeout != 2 {
		t.Errorf("StopTimeout = %v, want 2 (1.5s rounded up)", c.Config.StopTimeout)
	}
	ep := c.NetworkSettings.Networks[spec.Network]
	if ep == nil {
		t.Fatalf("not attached to %s: %v", spec.Network, c.NetworkSettings.Networks)
	}
	for _, alias := range spec.Aliases {
		if !slices.Contains(ep.Aliases, alias) {
			t.Errorf("aliases %q lack %q", ep.Aliases, alias)
		}
	}
	if len(c.NetworkSettings.Networks) != 1 {
		t.Errorf("attached to %d networks, want only %s", len(c.NetworkSettings.Networks), spec.Network)
	}
}

func TestCreateContainerDefaults(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	id := createTestContainer(t, d, engine.ContainerSpec{Image: img})
	raw, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := raw.Container.HostConfig
	// Security is not optional even when nothing else is set.
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("CapDrop %q, SecurityOpt %q", hc.CapDrop, hc.SecurityOpt)
	}
	if !hc.RestartPolicy.IsNone() || hc.Memory != 0 || hc.MemorySwap != 0 {
		t.Errorf("RestartPolicy %+v, Memory %d, MemorySwap %d", hc.RestartPolicy, hc.Memory, hc.MemorySwap)
	}

	// Without a network the instance is on the default bridge, and its
	// address there is reported.
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The restart policy can be switched on and off while it runs.
	for _, always := range []bool{true, false} {
		if err := d.SetRestart(ctx, id, always); err != nil {
			t.Fatal(err)
		}
		raw, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := raw.Container.HostConfig.RestartPolicy.Name == container.RestartPolicyUnlessStopped; got != always || !raw.Container.State.Running {
			t.Errorf("SetRestart(%v): policy %+v, running %v", always, raw.Container.HostConfig.RestartPolicy, raw.Container.State.Running)
		}
	}
	c, err := d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.IPAddress == "" {
		t.Errorf("no IP on the default bridge: %+v", c)
	}
	if err := d.StopContainer(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
}

func TestUserNetworkIP(t *testing.T) {
	// Pure: the first user network (by name) wins over the built-ins.
	c := fromInspect(container.InspectResponse{
		Name: "/web",
		NetworkSettings: &container.NetworkSettings{Networks: networksWithIPs(map[string]string{
			"bridge":    "172.17.0.2",
			"zz-stack":  "172.30.0.2",
			"app-stack": "172.20.0.2",
		})},
	})
	if c.IPAddress != "172.20.0.2" || c.Name != "web" {
		t.Errorf("got %q %q", c.Name, c.IPAddress)
	}
	c = fromInspect(container.InspectResponse{NetworkSettings: &container.NetworkSettings{Networks: networksWithIPs(map[string]string{"bridge": "172.17.0.2"})}})
	if c.IPAddress != "172.17.0.2" {
		t.Errorf("bridge only: got %q", c.IPAddress)
	}
	if c := fromInspect(container.InspectResponse{}); c.IPAddress != "" {
		t.Errorf("no networks: got %q", c.IPAddress)
	}
}

func TestListContainers(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	group := uniqueName(t)
	labels := func(role string) map[string]string {
		return map[string]string{testLabel: group, "slipway.role": role}
	}
	webID := createTestContainer(t, d, engine.ContainerSpec{Name: group + "-web", Image: img, Labels: labels("web")})
	workerID := createTestContainer(t, d, engine.ContainerSpec{Name: group + "-worker", Image: img, Labels: labels("worker")})
	createTestContainer(t, d, engine.ContainerSpec{Image: img}) // another group: never listed
	if err := d.StartContainer(ctx, webID); err != nil {
		t.Fatal(err)
	}

	all, err := d.ListContainers(ctx, map[string]string{testLabel: group})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]engine.Container{}
	for _, c := range all {
		byName[c.Name] = c
	}
	if len(all) != 2 || byName[group+"-web"].ID != webID || byName[group+"-worker"].ID != workerID {
		t.Fatalf("listed %+v", all)
	}
	if web := byName[group+"-web"]; !web.Running || web.IPAddress == "" || web.StartedAt.IsZero() {
		t.Errorf("web = %+v", web)
	}
	if worker := byName[group+"-worker"]; worker.Running || worker.State != "created" {
		t.Errorf("worker = %+v", worker)
	}

	only, err := d.ListContainers(ctx, labels("worker"))
	if err != nil {
		t.Fatal(err)
	}
	if len(only) != 1 || only[0].ID != workerID {
		t.Errorf("by role: %+v", only)
	}
	none, err := d.ListContainers(ctx, map[string]string{testLabel: group + "-nobody"})
	if err != nil || len(none) != 0 {
		t.Errorf("no match: %+v, %v", none, err)
	}
	if err := d.StopContainer(ctx, webID, 0); err != nil {
		t.Fatal(err)
	}
}

// TestRestarts checks that an instance the engine restarts after a crash
// reports it, from inspect and from list.
func TestRestarts(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	id := createTestContainer(t, d, engine.ContainerSpec{
		Name:          name,
		Image:         serverImage(t, d),
		Labels:        map[string]string{testLabel: name},
		Network:       ensureTestNetwork(t, d),
		RestartAlways: true,
	})
	c, err := d.InspectContainer(ctx, id)
	if err != nil || c.Restarts != 0 {
		t.Fatalf("created container: restarts %d, %v", c.Restarts, err)
	}
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, err = d.InspectContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, "http://"+c.IPAddress+":8080/")
	waitHTTP(t, "http://"+c.IPAddress+":8080/exit?code=1") // a crash

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err = d.InspectContainer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Restarts >= 1 && c.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted after a crash: %+v", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c.Restarts != 1 {
		t.Errorf("restarts = %d after one crash", c.Restarts)
	}
	listed, err := d.ListContainers(ctx, map[string]string{testLabel: name})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Restarts != c.Restarts {
		t.Errorf("listed = %+v, want one with %d restarts", listed, c.Restarts)
	}
}

// TestPauseUnpause: a paused instance keeps its state and answers nothing
// until it is unpaused; pausing twice or unpausing a running one is a
// conflict.
func TestPauseUnpause(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	id, base := startServer(t, d)
	if err := d.PauseContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, err := d.InspectContainer(ctx, id); err != nil || c.State != "paused" {
		t.Fatalf("after pause: %+v %v", c, err)
	}
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := hc.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("a paused instance answered %s", resp.Status)
	}
	assertCode(t, d.PauseContainer(ctx, id), core.CodeConflict)
	if err := d.UnpauseContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, base+"/")
	assertCode(t, d.UnpauseContainer(ctx, id), core.CodeConflict)
	assertCode(t, d.PauseContainer(ctx, "slipway-test-no-such-container"), core.CodeNotFound)
}
