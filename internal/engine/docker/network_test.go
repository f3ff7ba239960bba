package docker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

func TestEnsureNetwork(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	cleanupNetwork(t, d, name)

	id, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: name}, false)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: "ignored"}, false)
	if err != nil || again != id {
		t.Fatalf("second EnsureNetwork = %q, %v; want %q", again, err, id)
	}
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Driver != "bridge" || found[0].Labels[testLabel] != name {
		t.Fatalf("networks named %s: %+v", name, found)
	}

	// A network with containers attached cannot go: that is a conflict.
	img := serverImage(t, d)
	cid := createTestContainer(t, d, engine.ContainerSpec{Image: img, Network: name})
	if err := d.StartContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	assertCode(t, d.RemoveNetwork(ctx, name), core.CodeConflict)
	if err := d.RemoveContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := d.RemoveNetwork(ctx, name); err != nil {
			t.Fatalf("RemoveNetwork: %v", err)
		}
	}
	if found, _ := d.networksNamed(ctx, name); len(found) != 0 {
		t.Errorf("network still there: %+v", found)
	}
}

// TestEnsureNetworkConcurrent races separate engines (so the in-process
// lock does not help) on one name: on Docker 20.10 the daemon would let
// each create its own network; all must agree on one, and only one may
// remain.
func TestEnsureNetworkConcurrent(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	const racers = 4
	engines := make([]*Docker, racers)
	for i := range engines {
		engines[i] = requireDocker(t)
	}
	cleanupNetwork(t, engines[0], name)

	ids := make([]string, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i, d := range engines {
		wg.Go(func() { ids[i], errs[i] = d.EnsureNetwork(ctx, name, nil, false) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("racers disagree: %q", ids)
		}
	}
	found, err := engines[0].networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != ids[0] {
		t.Errorf("networks named %s after the race: %+v", name, found)
	}
}

// TestLockHostExcludes: while one holder has the lock on creating
// networks, another (here a second open of the file, as another process
// would have) waits for it, and gives up when its context ends.
func TestLockHostExcludes(t *testing.T) {
	ctx := testContext(t)
	unlock, err := lockHost(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := lockHost(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lockHost while held = %v, want a deadline error", err)
	}
	got := make(chan struct{})
	go func() {
		defer close(got)
		if unlock2, err := lockHost(ctx); err == nil {
			unlock2()
		}
	}()
	select {
	case <-got:
		t.Fatal("a second holder took the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not handed on after the first holder let go")
	}
}

func TestNetworkExists(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	cleanupNetwork(t, d, name)

	if ok, err := d.NetworkExists(ctx, name); err != nil || ok {
		t.Fatalf("NetworkExists before creation = %v, %v", ok, err)
	}
	id, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: name}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := d.NetworkExists(ctx, name); err != nil || !ok {
		t.Fatalf("NetworkExists after creation = %v, %v", ok, err)
	}
	// Exact names only: Docker's name filter matches substrings, and an
	// inspect would match IDs and ID prefixes.
	for _, other := range []string{name[:len(name)-2], id, id[:12]} {
		if ok, err := d.NetworkExists(ctx, other); err != nil || ok {
			t.Errorf("NetworkExists(%q) = %v, %v; want false", other, ok, err)
		}
	}
}

func TestEnsureNetworkInternal(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	name := uniqueName(t)
	cleanupNetwork(t, d, name)

	id, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: name}, true)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := d.EnsureNetwork(ctx, name, nil, true); err != nil || again != id {
		t.Fatalf("second EnsureNetwork = %q, %v; want %q", again, err, id)
	}
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !found[0].Internal || found[0].Driver != "bridge" {
		t.Fatalf("networks named %s: %+v", name, found)
	}
	// Asking for the same name with a route out must not hand back the
	// isolated network (nor the reverse).
	_, err = d.EnsureNetwork(ctx, name, nil, false)
	assertCode(t, err, core.CodeConflict)
	t.Logf("mismatch error: %v", err)

	open := ensureTestNetwork(t, d)
	_, err = d.EnsureNetwork(ctx, open, nil, true)
	assertCode(t, err, core.CodeConflict)
}

// TestInternalNetworkIsolation checks on the real daemon what the design
// relies on: the host (where the gateway runs) reaches an instance on an
// internal network by its IP, while the instance cannot reach past the
// host.
//
// "Past the host" is probed without the internet: the host's default
// gateway (the next hop of its default route) on port 53. An instance on
// an ordinary bridge network reaches it (answered or refused, through
// NAT); one on an internal network must not (the packets are dropped, so
// the dial times out). If the control cannot reach it either, the probe
// proves nothing and is skipped.
//
// It also records, without asserting, a Docker behaviour callers must
// know (moby/libnetwork#1151): an internal network blocks forwarding, not
// delivery to the host itself, so an instance on one still reaches every
// host service listening on all interfaces (0.0.0.0 or [::]), at the
// host's primary address or its own bridge's gateway address. Services
// bound to 127.0.0.1 stay out of reach.
func TestInternalNetworkIsolation(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)

	openNet := ensureTestNetwork(t, d)
	openURL := runServerOn(t, d, img, openNet, nil)

	internal := uniqueName(t)
	cleanupNetwork(t, d, internal)
	if _, err := d.EnsureNetwork(ctx, internal, map[string]string{testLabel: internal}, true); err != nil {
		t.Fatal(err)
	}
	// (a) The host reaches the instance by IP: runServerOn waits for it to
	// answer HTTP from here.
	innerURL := runServerOn(t, d, img, internal, []string{"inner"})

	// (b) The instance cannot reach past the host...
	if gw := defaultGateway(t); gw == "" {
		t.Log("no IPv4 default route on this host: the past-the-host probe is skipped")
	} else {
		beyond := net.JoinHostPort(gw, "53")
		control := dialFrom(t, openURL, beyond)
		if strings.Contains(control, "timeout") {
			t.Logf("the default gateway %s does not answer even from a normal network (%s): the past-the-host probe is skipped", beyond, control)
		} else {
			got := dialFrom(t, innerURL, beyond)
			if got == "ok" || strings.Contains(got, "refused") {
				t.Errorf("a container on an internal network reached %s past the host: %s (from a normal network: %s)", beyond, got, control)
			} else {
				t.Logf("past the host, %s: internal %q, normal %q", beyond, got, control)
			}
		}
	}
	// ...nor an instance on another network...
	if got := dialFrom(t, innerURL, strings.TrimPrefix(openURL, "http://")); got == "ok" {
		t.Errorf("a container on an internal network reached %s on another network", openURL)
	}
	// ...while instances on the same internal network reach each other by
	// alias.
	peerURL := runServerOn(t, d, img, internal, nil)
	if got := dialFrom(t, peerURL, "inner:8080"); got != "ok" {
		t.Errorf("a peer on the internal network cannot reach inner:8080: %s", got)
	}

	logHostReachability(t, d, internal, innerURL)
}

// logHostReachability records, without asserting, whether the instance at
// innerURL on network reaches a host listener on all interfaces, at the
// host's primary address and at the network's own gateway address.
func logHostReachability(t *testing.T, d *Docker, network, innerURL string) {
	t.Helper()
	ctx := testContext(t)
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	addrs := []string{net.JoinHostPort(primaryIPv4(t), port)}
	raw, err := d.cli.NetworkInspect(ctx, network, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range raw.Network.IPAM.Config {
		if cfg.Gateway.IsValid() && cfg.Gateway.Is4() {
			addrs = append(addrs, net.JoinHostPort(cfg.Gateway.String(), port))
		}
	}
	for _, addr := range addrs {
		t.Logf("NOTE: host listener on all interfaces, internal container -> %s: %s", addr, dialFrom(t, innerURL, addr))
	}
}

// defaultGateway returns the IPv4 next hop of the host's default route,
// from /proc/net/route, or "".
func defaultGateway(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		// Little-endian hex, as the kernel stores it.
		v, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil || v == 0 {
			continue
		}
		return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}).String()
	}
	return ""
}

// runServerOn starts the fixture on network with aliases, waits until the
// host can reach it over HTTP and returns its base URL.
func runServerOn(t *testing.T, d *Docker, img, network string, aliases []string) string {
	t.Helper()
	ctx := testContext(t)
	id := createTestContainer(t, d, engine.ContainerSpec{Image: img, Network: network, Aliases: aliases, MemoryBytes: 64 << 20})
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	c, err := d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.IPAddress == "" {
		t.Fatalf("container on %s has no address: %+v", network, c)
	}
	url := "http://" + c.IPAddress + ":8080"
	waitHTTP(t, url+"/")
	return url
}

// dialFrom asks the fixture at baseURL to open a TCP connection to addr
// and returns its answer: "ok" or "error: ...".
func dialFrom(t *testing.T, baseURL, addr string) string {
	t.Helper()
	return strings.TrimSpace(waitHTTP(t, baseURL+"/dial?addr="+url.QueryEscape(addr)))
}

// primaryIPv4 returns the host's IPv4 address on the interface of its
// default route (from /proc/net/route), else on the first interface that
// is up, not loopback and not a Docker bridge or veth.
func primaryIPv4(t *testing.T) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	defaultIface := ""
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 2 && f[1] == "00000000" {
				defaultIface = f[0]
				break
			}
		}
	}
	slices.SortStableFunc(ifaces, func(a, b net.Interface) int {
		return cmpBool(a.Name != defaultIface, b.Name != defaultIface)
	})
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if strings.HasPrefix(ifc.Name, "docker") || strings.HasPrefix(ifc.Name, "br-") || strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	t.Fatal("no IPv4 address on a non-loopback, non-Docker interface: cannot probe network isolation")
	return ""
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

func TestConnectNetwork(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	first := ensureTestNetwork(t, d)
	second := ensureTestNetwork(t, d)
	third := ensureTestNetwork(t, d)

	// A created, not yet started, instance.
	id := createTestContainer(t, d, engine.ContainerSpec{Image: img, Network: first, Aliases: []string{"one"}})
	if err := d.ConnectNetwork(ctx, second, id, []string{"svc", "svc-1"}); err != nil {
		t.Fatalf("connect created container: %v", err)
	}
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A running one.
	if err := d.ConnectNetwork(ctx, third, id, nil); err != nil {
		t.Fatalf("connect running container: %v", err)
	}

	raw, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nets := raw.Container.NetworkSettings.Networks
	for _, n := range []string{first, second, third} {
		if ep := nets[n]; ep == nil || !ep.IPAddress.IsValid() {
			t.Errorf("not attached to %s with an address: %+v", n, ep)
		}
	}
	if ep := nets[second]; ep == nil || !slices.Contains(ep.Aliases, "svc") || !slices.Contains(ep.Aliases, "svc-1") {
		t.Errorf("aliases on %s: %+v", second, ep)
	}

	// The alias resolves for a peer on the second network, and the host
	// reaches the instance on the address it gets there.
	peer := runServerOn(t, d, img, second, nil)
	if got := dialFrom(t, peer, "svc-1:8080"); got != "ok" {
		t.Errorf("peer on %s cannot reach svc-1:8080: %s", second, got)
	}
	waitHTTP(t, "http://"+nets[third].IPAddress.String()+":8080/")

	assertCode(t, d.ConnectNetwork(ctx, second, id, nil), core.CodeConflict)
	assertCode(t, d.ConnectNetwork(ctx, uniqueName(t), id, nil), core.CodeNotFound)
	assertCode(t, d.ConnectNetwork(ctx, second, uniqueName(t), nil), core.CodeNotFound)
}

// TestNetworkGateway: the gateway address is the host's on the bridge,
// and a host listener bound to it is reachable from the network's
// containers, internal networks included (the Lambda Runtime API is
// served that way).
func TestNetworkGateway(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	for _, internal := range []bool{false, true} {
		name := uniqueName(t)
		cleanupNetwork(t, d, name)
		if _, err := d.EnsureNetwork(ctx, name, map[string]string{testLabel: name}, internal); err != nil {
			t.Fatal(err)
		}
		gw, err := d.NetworkGateway(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
		if err != nil {
			t.Fatalf("listen on the gateway address %s: %v", gw, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		url := runServerOn(t, d, img, name, nil)
		if got := dialFrom(t, url, ln.Addr().String()); got != "ok" {
			t.Errorf("internal=%v: a container cannot reach the host at its gateway %s: %s", internal, ln.Addr(), got)
		}
	}
	assertCode(t, func() error { _, err := d.NetworkGateway(ctx, "slipway-test-no-such-network"); return err }(), core.CodeNotFound)
}
