package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"

	"github.com/slipwayhq/slipway/internal/core"
)

// Config is what New needs; every field but Logger is required.
type Config struct {
	Dir      string            // storage root, e.g. <data-dir>/registry
	Username string            // the only user, "slipway"
	Token    func(string) bool // reports whether a password is a valid token
	Logger   *slog.Logger
}

// Registry is the embedded OCI registry: an HTTP handler for the
// distribution API plus direct, in-process reads of what it stores.
type Registry struct {
	app     *handlers.App
	handler http.Handler
	// ns reads the same storage root as app, through its own driver. It
	// is safe because distribution keeps no state outside the files: the
	// app is configured with no blob descriptor cache, so nothing it holds
	// can go stale when ns deletes a repository.
	ns     distribution.Namespace
	remove distribution.RepositoryRemover
	driver storagedriver.StorageDriver // ns's driver, for garbage collection
	logger *slog.Logger
	// gc is held exclusively by a garbage collection for its whole run
	// (which also serializes runs) and shared by what removes or repoints
	// references: manifest puts and deletes over HTTP, Untag and
	// DeleteRepository. See CollectGarbage.
	gc sync.RWMutex
}

// New builds the registry over cfg.Dir, creating the directory if needed.
//
// Distribution's app starts two goroutines. The upload purger (removes
// uploads abandoned for a week, first run within an hour, then daily)
// stops when ctx is done or Close is called. The notification broadcaster
// (go-events, with no sinks here) has no stop reachable through the public
// API and idles on a select for the life of the process; that is one
// goroutine per New, and the server calls New once.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("new registry: storage dir is empty")
	case cfg.Username == "":
		return nil, errors.New("new registry: username is empty")
	case cfg.Token == nil:
		return nil, errors.New("new registry: token check is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "registry")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create registry dir: %w", err)
	}
	routeLogrus(logger)

	conf, err := appConfig(cfg.Dir)
	if err != nil {
		return nil, err
	}
	app, err := newApp(ctx, conf)
	if err != nil {
		return nil, err
	}

	driver := filesystem.New(filesystem.DriverParameters{
		RootDirectory: cfg.Dir,
		MaxThreads:    100,
	})
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		_ = app.Shutdown()
		return nil, fmt.Errorf("open registry storage: %w", err)
	}
	remove, ok := ns.(distribution.RepositoryRemover)
	if !ok {
		_ = app.Shutdown()
		return nil, errors.New("open registry storage: namespace cannot remove repositories")
	}

	r := &Registry{
		app:    app,
		ns:     ns,
		remove: remove,
		driver: driver,
		logger: logger,
	}
	r.handler = authenticate(cfg.Username, cfg.Token, r.guardManifests(app))
	return r, nil
}

// appConfig is the distribution configuration, built in code so there is
// no YAML file and no REGISTRY_* environment parsing. What is absent is
// off: no auth section (our middleware does it), no redis, no
// notification endpoints, no proxy, no storage cache, no health checks.
func appConfig(dir string) (*configuration.Configuration, error) {
	// Upload state is HMAC-signed with this secret; distribution invents
	// one (with a warning) when it is empty. A fresh one per process only
	// breaks uploads that span a restart, which docker retries anyway.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate registry secret: %w", err)
	}
	conf := &configuration.Configuration{Version: configuration.CurrentVersion}
	conf.HTTP.Secret = string(secret)
	conf.Storage = configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": dir},
		"delete":     configuration.Parameters{"enabled": true},
		// The filesystem driver has no redirect URLs; say so to skip the
		// attempt on every blob GET.
		"redirect": configuration.Parameters{"disable": true},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{
				"enabled": true, "age": "168h", "interval": "24h", "dryrun": false,
			},
		},
	}
	return conf, nil
}

// newApp calls handlers.NewApp, which reports bad configuration by
// panicking; the panic becomes an error here.
func newApp(ctx context.Context, conf *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start registry app: %v", p)
		}
	}()
	return handlers.NewApp(ctx, conf), nil
}

// Handler serves the OCI distribution API (/v2/...), every request behind
// basic auth.
func (r *Registry) Handler() http.Handler { return r.handler }

// Close stops the app's background work. Requests still in flight finish
// against storage as usual.
func (r *Registry) Close() error {
	if err := r.app.Shutdown(); err != nil {
		return fmt.Errorf("shut down registry: %w", err)
	}
	return nil
}

// Tags lists the tags of repo, sorted; an unknown repository has none.
func (r *Registry) Tags(ctx context.Context, repo string) ([]string, error) {
	rep, err := r.repository(ctx, repo)
	if err != nil {
		return nil, err
	}
	tags, err := rep.Tags(ctx).All(ctx)
	if err != nil {
		if errors.As(err, new(distribution.ErrRepositoryUnknown)) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	return tags, nil
}

// Digest returns the manifest digest ("sha256:...") that repo:tag points
// at, or a CodeNotFound error when the repository or tag does not exist.
func (r *Registry) Digest(ctx context.Context, repo, tag string) (string, error) {
	rep, err := r.repository(ctx, repo)
	if err != nil {
		return "", err
	}
	if _, err := reference.WithTag(rep.Named(), tag); err != nil {
		return "", core.Wrap(core.CodeInvalid, err, "invalid tag %q", tag)
	}
	desc, err := rep.Tags(ctx).Get(ctx, tag)
	if err != nil {
		if errors.As(err, new(distribution.ErrTagUnknown)) {
			return "", core.Wrap(core.CodeNotFound, err, "image %s:%s not found", repo, tag)
		}
		return "", fmt.Errorf("resolve tag %s:%s: %w", repo, tag, err)
	}
	return desc.Digest.String(), nil
}

// Untag removes one tag of repo; the manifest and blobs it pointed at
// stay (other tags may share them) until CollectGarbage. An unknown tag
// or repository is not an error.
func (r *Registry) Untag(ctx context.Context, repo, tag string) error {
	r.gc.RLock()
	defer r.gc.RUnlock()
	rep, err := r.repository(ctx, repo)
	if err != nil {
		return err
	}
	if err := rep.Tags(ctx).Untag(ctx, tag); err != nil {
		if errors.As(err, new(distribution.ErrTagUnknown)) || errors.As(err, new(distribution.ErrRepositoryUnknown)) || errors.As(err, new(storagedriver.PathNotFoundError)) {
			return nil
		}
		return fmt.Errorf("untag %s:%s: %w", repo, tag, err)
	}
	return nil
}

// DeleteRepository removes repo's tags, manifest links and unfinished
// uploads; deleting an unknown repository succeeds. It uses distribution's
// own RepositoryRemover (the one its proxy cache expires repositories
// with), which deletes <dir>/docker/registry/v2/repositories/<repo>. That
// directory holds only links into the shared blob store, so no other
// repository loses anything. The blobs themselves stay on disk until
// CollectGarbage runs. (Distribution's storage.MarkAndSweep must not be
// used: it is unsafe while pushes are in flight.)
func (r *Registry) DeleteRepository(ctx context.Context, repo string) error {
	r.gc.RLock()
	defer r.gc.RUnlock()
	named, err := parseRepo(repo)
	if err != nil {
		return err
	}
	if err := r.remove.Remove(ctx, named); err != nil {
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			return nil
		}
		return fmt.Errorf("delete repository %s: %w", repo, err)
	}
	r.logger.Info("repository deleted", "repo", repo)
	return nil
}

func (r *Registry) repository(ctx context.Context, repo string) (distribution.Repository, error) {
	named, err := parseRepo(repo)
	if err != nil {
		return nil, err
	}
	rep, err := r.ns.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repo, err)
	}
	return rep, nil
}

// parseRepo accepts a repository name as it appears in the API path
// ("app", "team/app"), not a full reference with host or tag.
func parseRepo(repo string) (reference.Named, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, core.Wrap(core.CodeInvalid, err, "invalid repository name %q", repo)
	}
	return named, nil
}
