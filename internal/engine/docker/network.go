package docker

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

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

// EnsureNetwork returns the ID of the bridge network called name,
// creating it with labels if there is none.
//
// Docker before API 1.44 (so Docker 20.10) happily creates two networks
// with the same name unless the request sets CheckDuplicate, a field the
// current client no longer sends; a name then becomes ambiguous and every
// later create or inspect by name fails. So networks are looked up by
// listing (never by an inspect that could be ambiguous or match an ID
// prefix), creation is serialised per name in this process, and after
// creating we list again: if another process raced us, every racer keeps
// the oldest network and removes its own duplicate. Newer daemons refuse
// the duplicate with a conflict, which lands in the same place.
func (d *Docker) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	unlock := d.networks.lock(name)
	defer unlock()

	found, err := d.networksNamed(ctx, name)
	if err != nil {
		return "", d.fail(err, "look up network %s", name)
	}
	if len(found) > 0 {
		return found[0].ID, nil
	}

	res, err := d.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: maps.Clone(labels),
	})
	if err != nil && !cerrdefs.IsConflict(err) {
		return "", d.fail(err, "create network %s", name)
	}
	found, err = d.networksNamed(ctx, name)
	if err != nil {
		return "", d.fail(err, "look up network %s", name)
	}
	if len(found) == 0 {
		return "", core.Errorf(core.CodeInternal, "create network %s: it vanished right after creation", name)
	}
	keep := found[0].ID
	if res.ID != "" && res.ID != keep {
		d.log.Info("removing duplicate network created by a concurrent caller", "network", name, "id", res.ID, "kept", keep)
		if _, err := d.cli.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return "", d.fail(err, "remove duplicate network %s", name)
		}
	}
	return keep, nil
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
