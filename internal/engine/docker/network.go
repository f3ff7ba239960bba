package docker

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
)

// networkLocks serialises EnsureNetwork per name within this process.
type networkLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *networkLocks) lock(name string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*sync.Mutex)
	}
	m, ok := l.locks[name]
	if !ok {
		m = &sync.Mutex{}
		l.locks[name] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// hostLockFile is the file whose flock EnsureNetwork holds.
var hostLockFile = filepath.Join(os.TempDir(), "slipway-docker-networks.lock")

// lockHost takes the lock on creating networks that every process on
// this machine shares (an exclusive flock on hostLockFile), so that a
// second server, or another engine, does not race this one to create a
// network of the same name. It is best effort: when the file cannot be
// opened it takes no lock, and callers on other machines that share a
// daemon are not covered; for both, EnsureNetwork still settles on one
// network after the fact.
func lockHost(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(hostLockFile, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return func() {}, nil
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return func() {}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// EnsureNetwork returns the ID of the bridge network called name,
// creating it with labels if there is none. An internal network gets no
// gateway out: its containers reach each other and the host reaches them
// by IP, but they cannot open connections beyond the host.
//
// Internal is not isolation from the host itself (moby/libnetwork#1151,
// verified on Docker 20.10 by TestInternalNetworkIsolation): Docker only
// drops forwarded traffic, and its containers still get a default route
// via the bridge's host address, so they reach every host service
// listening on all interfaces (Slipway's gateway on :8080 included), at
// any host address. Services bound to 127.0.0.1 stay out of reach.
//
// An existing network is kept as it is (labels are not updated), except
// that one whose internal setting differs from the one asked for is
// CodeConflict: silently handing back a network with a route out when
// isolation was asked for (or the reverse) would be wrong either way, and
// only the caller can decide to remove and recreate it.
//
// Docker before API 1.44 (so Docker 20.10) happily creates two networks
// with the same name unless the request sets CheckDuplicate, a field the
// current client no longer sends; a name then becomes ambiguous and every
// later create or inspect by name fails. So networks are looked up by
// listing (never by an inspect that could be ambiguous or match an ID
// prefix), creation is serialised per name in this process and, through
// a file lock (lockHost), with other processes on this machine. After
// creating we list again: if a caller the lock does not cover (on
// another machine) raced us, every racer keeps the oldest network and
// removes its own duplicate. Newer daemons refuse the duplicate with a
// conflict, which lands in the same place.
func (d *Docker) EnsureNetwork(ctx context.Context, name string, labels map[string]string, internal bool) (string, error) {
	unlock := d.networks.lock(name)
	defer unlock()

	// existing is the network called name, if there is one.
	existing := func() (id string, ok bool, err error) {
		found, err := d.networksNamed(ctx, name)
		if err != nil {
			return "", false, d.fail(err, "look up network %s", name)
		}
		if len(found) == 0 {
			return "", false, nil
		}
		return found[0].ID, true, checkInternal(found[0], internal)
	}
	if id, ok, err := existing(); ok || err != nil {
		return id, err
	}
	// Only a creation waits for other processes' (the look again once
	// it is this one's turn), so a rollout or a cold start on an
	// existing network never does.
	unlockHost, err := lockHost(ctx)
	if err != nil {
		return "", d.fail(err, "create network %s", name)
	}
	defer unlockHost()
	if id, ok, err := existing(); ok || err != nil {
		return id, err
	}

	res, err := d.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Labels:   maps.Clone(labels),
	})
	if err != nil && !cerrdefs.IsConflict(err) {
		return "", d.fail(err, "create network %s", name)
	}
	// A racer's network may show up in the list a moment after ours, so
	// one look is not enough: every creator removes its own network
	// whenever it is not the oldest, and waits until one is left. The
	// oldest one's creator never removes it, so all racers end on it.
	own, last, same := res.ID, "", 0
	for attempt := 0; ; attempt++ {
		found, err := d.networksNamed(ctx, name)
		if err != nil {
			return "", d.fail(err, "look up network %s", name)
		}
		if len(found) == 0 {
			return "", core.Errorf(core.CodeInternal, "create network %s: it vanished right after creation", name)
		}
		keep := found[0].ID
		if own != "" && own != keep {
			d.log.Info("removing duplicate network created by a concurrent caller", "network", name, "id", own, "kept", keep)
			if _, err := d.cli.NetworkRemove(ctx, own, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				return "", d.fail(err, "remove duplicate network %s", name)
			}
			own = ""
			continue
		}
		// A single network, seen five times in a row (400 ms apart or
		// more), is settled: a racer's network listed after our first
		// look is then visible, even on a daemon under load (one look
		// 100 ms later was seen to miss it, and under a full test run
		// three looks 200 ms apart once did: a bridge network is listed
		// only once its creation, iptables rules and all, is done).
		if len(found) == 1 && keep == last {
			same++
		} else {
			same = 0
		}
		last = keep
		if same >= 4 || attempt >= 40 {
			// The kept network may be a concurrent caller's, made with
			// the other setting.
			return keep, checkInternal(found[0], internal)
		}
		select {
		case <-ctx.Done():
			return "", d.fail(ctx.Err(), "create network %s", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkInternal reports an existing network whose isolation is not the
// one asked for.
func checkInternal(n network.Summary, internal bool) error {
	if n.Internal == internal {
		return nil
	}
	have, want := "has a route out", "internal"
	if n.Internal {
		have, want = "is internal", "with a route out"
	}
	return core.Errorf(core.CodeConflict,
		"ensure network %s: it exists but %s, and it was asked for %s: remove it (docker network rm %s) to recreate it",
		n.Name, have, want, n.Name)
}

// NetworkExists reports whether a network is called name (exactly: not
// an ID, not a prefix).
func (d *Docker) NetworkExists(ctx context.Context, name string) (bool, error) {
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		return false, d.fail(err, "look up network %s", name)
	}
	return len(found) > 0, nil
}

// ConnectNetwork attaches a created or running instance to the network
// called name, with DNS aliases there. The network is resolved to its ID
// first, as in CreateContainer, so an unknown one is CodeNotFound and an
// old daemon's duplicate name is not ambiguous. Connecting an instance
// that is already attached is CodeConflict.
func (d *Docker) ConnectNetwork(ctx context.Context, name, id string, aliases []string) error {
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		return d.fail(err, "connect container %s: look up network %s", id, name)
	}
	if len(found) == 0 {
		return core.Errorf(core.CodeNotFound, "connect container %s: network %s not found", id, name)
	}
	_, err = d.cli.NetworkConnect(ctx, found[0].ID, client.NetworkConnectOptions{
		Container:      id,
		EndpointConfig: &network.EndpointSettings{Aliases: slices.Clone(aliases)},
	})
	if err != nil {
		return d.fail(err, "connect container %s to network %s", id, name)
	}
	return nil
}

// NetworkGateway returns the IPv4 gateway of the network called name:
// the host's address on its bridge. An unknown network is CodeNotFound.
func (d *Docker) NetworkGateway(ctx context.Context, name string) (string, error) {
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		return "", d.fail(err, "look up network %s", name)
	}
	if len(found) == 0 {
		return "", core.Errorf(core.CodeNotFound, "network %s not found", name)
	}
	for _, c := range found[0].IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
	}
	return "", core.Errorf(core.CodeInternal, "network %s has no IPv4 gateway", name)
}

// RemoveNetwork removes every network called name (there is one unless an
// old daemon let duplicates in). A missing network is not an error; one
// with attached containers is CodeConflict.
func (d *Docker) RemoveNetwork(ctx context.Context, name string) error {
	found, err := d.networksNamed(ctx, name)
	if err != nil {
		return d.fail(err, "look up network %s", name)
	}
	for _, n := range found {
		if _, err := d.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return d.fail(err, "remove network %s", name)
		}
	}
	return nil
}

// networksNamed lists the networks whose name is exactly name (Docker's
// name filter also matches substrings), oldest first, ties broken by ID
// so that concurrent callers agree on which one to keep.
func (d *Docker) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return nil, err
	}
	found := slices.DeleteFunc(res.Items, func(n network.Summary) bool { return n.Name != name })
	slices.SortFunc(found, func(a, b network.Summary) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return found, nil
}
