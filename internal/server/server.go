package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/slipwayhq/slipway/internal/accesslog"
	"github.com/slipwayhq/slipway/internal/api"
	"github.com/slipwayhq/slipway/internal/certs"
	"github.com/slipwayhq/slipway/internal/container"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/credentials"
	"github.com/slipwayhq/slipway/internal/endpoint"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/engine/docker"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/pipeline"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/secrets"
	"github.com/slipwayhq/slipway/internal/serverless"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/source"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
	"github.com/slipwayhq/slipway/internal/telemetry"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/web"
)

// Config is the server's configuration (flags and SLIPWAY_* variables).
type Config struct {
	DataDir      string
	APIAddr      string
	GatewayAddr  string
	RegistryAddr string
	Domain       string
	Namespace    string
	Version      string

	// The autoscaler samples CPU every StatsInterval and averages over
	// StatsWindow (5s and 30s, as CloudWatch-driven ECS scaling).
	StatsInterval time.Duration
	StatsWindow   time.Duration
	// KeepImages is how many builds' images retention keeps per stack.
	KeepImages int
	// BuildTimeout bounds a build's build.yml phases and image build.
	BuildTimeout time.Duration
	// HTTPSAddr is the gateway's HTTPS listener for custom domains ("":
	// none); ACMECA the ACME directory certificates come from, ACMEEmail
	// the account's contact, ACMERoots extra roots (PEM file) to trust
	// the CA's own HTTPS with (a test CA).
	HTTPSAddr string
	ACMECA    string
	ACMEEmail string
	ACMERoots string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// AlarmWebhooks are the webhooks every stack's built-in alarms
	// notify (--alarm-webhook).
	AlarmWebhooks []string
	// LogRetention and LogMaxBytes bound each stage's stored logs of
	// each kind, by age and by size (0: the log store's defaults, 90
	// days and 256 MiB).
	LogRetention time.Duration
	LogMaxBytes  int64
}

// RegistryUser is the user name for `docker login` to the registry.
const RegistryUser = "slipway"

const tokenSetting = "admin_token_sha256"

// Run runs the server until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	stopPprof, err := servePprof(log)
	if err != nil {
		return err
	}
	defer stopPprof()
	eng, err := docker.New(log)
	if err != nil {
		return err
	}
	defer eng.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ver, err := eng.Ping(pingCtx)
	cancel()
	if err != nil {
		return err
	}
	st, err := sqlite.Open(filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.GetSetting(ctx, tokenSetting)
	firstStart := core.IsNotFound(err)
	token, rotated, err := adminToken(ctx, st, cfg.DataDir)
	if err != nil {
		return err
	}
	serverID, err := settingOrNew(ctx, st, "server_id", 6)
	if err != nil {
		return err
	}
	tokenHash := sha256.Sum256([]byte(token))
	checkToken := func(s string) bool {
		h := sha256.Sum256([]byte(s))
		return subtle.ConstantTimeCompare(h[:], tokenHash[:]) == 1
	}
	// Builds push with a registry-only credential: a build.yml sees it
	// (in DOCKER_CONFIG), so it must not open the API.
	registryToken, err := settingOrNew(ctx, st, "registry_token", 24)
	if err != nil {
		return err
	}
	registryHash := sha256.Sum256([]byte(registryToken))
	// /metrics takes the admin token or this read-only one.
	scrape, err := scrapeToken(ctx, st, cfg.DataDir)
	if err != nil {
		return err
	}
	// The metrics store (points under <data-dir>/metrics); the API, the
	// dashboard and alarms read it.
	metricsStore, err := telemetry.Open(telemetry.Config{Dir: filepath.Join(cfg.DataDir, "metrics"), Logger: log})
	if err != nil {
		return err
	}
	defer metricsStore.Close() // after the gateway and jobs stopped: see below
	checkRegistry := func(s string) bool {
		h := sha256.Sum256([]byte(s))
		return checkToken(s) || subtle.ConstantTimeCompare(h[:], registryHash[:]) == 1
	}

	lAPI, err := listen("api", cfg.APIAddr)
	if err != nil {
		return err
	}
	lGW, err := listen("gateway", cfg.GatewayAddr)
	if err != nil {
		lAPI.Close()
		return err
	}
	lReg, err := listen("registry", cfg.RegistryAddr)
	if err != nil {
		lAPI.Close()
		lGW.Close()
		return err
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	reg, err := registry.New(ctx, registry.Config{Dir: filepath.Join(cfg.DataDir, "registry"), Username: RegistryUser, Token: checkRegistry, Logger: log})
	if err != nil {
		return err
	}
	defer reg.Close()
	keyPath := filepath.Join(cfg.DataDir, "secrets.key")
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) && holdsSealed(ctx, st) {
		return fmt.Errorf("the secrets key %s is missing, but state.db holds values sealed with it: restore the file from a backup (a new key could not open them)", keyPath)
	}
	box, err := secrets.Load(keyPath)
	if err != nil {
		return err
	}
	// The four logs (runtime, build, release, access) of every stage,
	// kept under <data-dir>/logs; closed once every writer has stopped.
	logs, err := logstore.Open(logstore.Config{Dir: filepath.Join(cfg.DataDir, "logs"), MaxAge: cfg.LogRetention, MaxBytes: cfg.LogMaxBytes, Logger: log})
	if err != nil {
		return err
	}
	defer logs.Close()
	if err := logs.MigrateLegacy(); err != nil {
		return err
	}
	// Per-stage access logs, JSON lines, and the same at debug level in
	// the server log.
	accessLog := accesslog.New(accesslog.Config{Store: logs, Logger: log})
	access := log.With("component", "access")
	// Sticky-session cookies stay valid across restarts.
	stickyKey, err := settingOrNew(ctx, st, "sticky_key", 32)
	if err != nil {
		return err
	}
	gw := gateway.New(gateway.Config{Logger: log.With("component", "gateway"), Domain: cfg.Domain,
		TrustedProxies: cfg.TrustedProxies, StickyKey: []byte(stickyKey),
		OnRequest: func(ri gateway.RequestInfo) {
			metricsStore.ObserveRequest(requestMetric(ri))
			accessLog.Record(accesslog.Entry{Time: time.Now().Add(-ri.Duration).UTC(), RequestID: ri.RequestID, Stack: ri.Stack, Stage: ri.Stage,
				Method: ri.Method, Host: ri.Host, Path: ri.Path, Status: ri.Status, Bytes: ri.BytesOut,
				LatencyMS: float64(ri.Duration.Microseconds()) / 1000, Instance: ri.BackendID, ColdStart: ri.ColdStart,
				InitMS: ri.Init.Milliseconds(), APIKey: ri.APIKey, ClientIP: ri.ClientIP})
			if !access.Enabled(context.Background(), slog.LevelDebug) {
				return
			}
			attrs := []any{"request_id", ri.RequestID, "host", ri.Host, "stack", ri.Stack, "stage", ri.Stage, "method", ri.Method,
				"path", ri.Path, "status", ri.Status, "ms", float64(ri.Duration.Microseconds()) / 1000, "bytes", ri.BytesOut, "instance", ri.BackendID}
			if ri.ColdStart {
				attrs = append(attrs, "cold_start", true, "init_ms", ri.Init.Milliseconds())
			}
			access.Debug("request", attrs...)
		}})
	// Custom domains: an HTTPS listener with ACME certificates; the plain
	// gateway listener answers HTTP-01 challenges and redirects.
	var certMgr *certs.Manager
	var lTLS net.Listener
	if cfg.HTTPSAddr != "" {
		roots, err := acmeRoots(cfg.ACMERoots)
		if err != nil {
			return err
		}
		if lTLS, err = listen("https", cfg.HTTPSAddr); err != nil {
			return err
		}
		defer lTLS.Close()
		certMgr, err = certs.New(certs.Config{Dir: filepath.Join(cfg.DataDir, "certs"), CA: cfg.ACMECA, Email: cfg.ACMEEmail,
			RootCAs: roots, HTTPAddr: lGW.Addr().String(), HTTPSAddr: lTLS.Addr().String(), Logger: log})
		if err != nil {
			return err
		}
		defer certMgr.Close()
	}
	endpoints := endpoint.NewManager(endpoint.Config{Store: st, Logger: log, Context: ctx,
		OnKey: func(w http.ResponseWriter, name string) { gateway.SetAPIKey(w, name) }})
	rt := &routing{ctx: ctx, gw: gw, store: st, endpoints: endpoints, certs: certMgr, log: log}
	ctl := container.New(container.Config{
		OpenSecret: box.Open,
		Engine:     eng, Store: st, Domain: cfg.Domain, Namespace: cfg.Namespace, ServerID: serverID, Logger: log,
		StatsInterval: cfg.StatsInterval, StatsWindow: cfg.StatsWindow,
		Publish: rt.setContainer,
	})
	meter := serverless.NewMeter(st, log)
	fns := serverless.New(serverless.Config{
		Engine: eng, Store: st, Namespace: cfg.Namespace, ServerID: serverID, Domain: cfg.Domain,
		NetworkName: ctl.NetworkName, NetworkLabels: ctl.Labels(), OpenSecret: box.Open,
		Meter: func(inv core.Invocation) { meter.Record(inv); countInvocation(metricsStore, inv) }, Logger: log,
		Publish: rt.setServerless,
	})
	registryHost := loopbackAddr(lReg.Addr())
	var svc *service.Service
	remote, err := source.New(source.Config{
		Dir: filepath.Join(cfg.DataDir, "git"), Token: checkToken, Logger: log,
		OnPush: func(p source.Push) {
			if svc != nil {
				svc.DeployPush(p.Stack, p.Branch, p.New)
			}
		},
	})
	if err != nil {
		return err
	}
	svc, err = service.New(ctx, service.Config{
		Store: st, Engine: eng, Controller: ctl, Serverless: fns, Usage: meter, Registry: reg, Source: remote, Sealer: box, Opener: box, Fetcher: remote, Logger: log,
		Exporters:    exporters(),
		Images:       &pipeline.Images{Engine: eng, Registry: registryHost, Auth: engine.RegistryAuth{Username: RegistryUser, Password: registryToken}},
		Domain:       cfg.Domain,
		GatewayPort:  portOf(lGW.Addr()),
		DataDir:      cfg.DataDir,
		KeepImages:   cfg.KeepImages,
		BuildTimeout: cfg.BuildTimeout,
		ServerID:     serverID,
		Logs:         logs,
		OnOutcome:    func(o service.Outcome) { countOutcome(metricsStore, o) },
		OnChange:     rt.reload,
	})
	if err != nil {
		return err
	}
	apiURL := "http://" + loopbackAddr(lAPI.Addr())
	info := api.Info{Version: cfg.Version, Domain: cfg.Domain, GatewayAddr: loopbackAddr(lGW.Addr()),
		RegistryAddr: registryHost, Docker: ver.Version, DockerAPI: ver.APIVersion}
	// The git remote shares the API's listener: git push to
	// <api>/git/<stack>.git with the token as password.
	handler := http.NewServeMux()
	handler.Handle("/git/", remote.Handler())
	alarms, figures := newAlarms(cfg, st, svc, metricsStore, apiURL, log)
	apiHandler := api.New(svc, token, info, log)
	apiHandler.SetAlarms(alarms, figures)
	apiHandler.SetMetrics(metricsStore, metricsStore.Handler(telemetry.TokenChecker(token, scrape)))
	handler.Handle("/", apiHandler)
	// The dashboard shares it too: /ui/, and / redirects there.
	dash, err := web.New(web.Config{Service: svc, Metrics: storeMetrics{metricsStore}, Logs: storeLogs{svc.ReadLogs}, Token: token, Logger: log})
	if err != nil {
		return err
	}
	handler.Handle("/ui/", dash)
	handler.Handle("GET /{$}", dash)

	// Plain HTTP goes through the gateway's Frontend: its fast path serves
	// most requests, and hands the rest, connection and all, to an
	// http.Server whose listener refuses ambiguous framing (request
	// smuggling) before net/http sees it. HTTPS/1.1 is checked the same
	// way; HTTP/2 connections pass as they are.
	var plain http.Handler = gw
	var bypass func(host, path string) bool
	if certMgr != nil {
		plain = certMgr.HTTPHandler(gw)
		bypass = certMgr.Intercepts
	}
	front := gw.NewFrontend(gateway.FrontendConfig{Bypass: bypass, Fallback: &http.Server{Handler: plain,
		ReadHeaderTimeout: gateway.ReadHeaderTimeout, MaxHeaderBytes: gateway.MaxHeaderBytes, IdleTimeout: gateway.IdleTimeout,
		ConnContext: gateway.ConnContext, // per-stage idle timeouts
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug)}})
	servers := []*http.Server{
		{Handler: handler, ReadHeaderTimeout: 10 * time.Second},
		{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second},
	}
	listeners := []net.Listener{lAPI, lReg}
	if certMgr != nil {
		srv, ln := gatewayHTTPS(gw, certMgr.TLSConfig(), lTLS)
		servers = append(servers, srv)
		listeners = append(listeners, ln)
	}
	// Adopt and route what a previous server left running before the
	// gateway takes traffic, so a restart does not open with empty routes.
	syncCtx, cancelSync := context.WithTimeout(ctx, 15*time.Second)
	if err := ctl.Sync(syncCtx); err != nil {
		log.Warn("first sync failed; retrying in the background", "err", err)
	}
	cancelSync()
	if err := fns.Start(ctx); err != nil {
		return err
	}
	rt.reload() // keys, domains and the dressed route table, before traffic
	errc := make(chan error, len(servers)+1)
	go func() {
		if err := front.Serve(lGW); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	for i, srv := range servers {
		// Requests (log streams, say) end with the server, not after the
		// shutdown grace period.
		srv.BaseContext = func(net.Listener) context.Context { return ctx }
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	credPath := credentials.Path(cfg.DataDir)
	if err := credentials.Write(credPath, map[string]string{
		credentials.Server: apiURL, credentials.Token: token,
		credentials.Gateway: info.GatewayAddr, credentials.Registry: registryHost, credentials.Scrape: scrape,
	}); err != nil {
		stop()
		return err
	}
	switch {
	case rotated:
		log.Warn("the credentials file did not hold the admin token; generated a new one", "credentials", credPath)
	case firstStart:
		log.Info("first start: generated an admin token and saved it with the server URL (mode 0600)", "credentials", credPath)
	}
	go svc.Poll(ctx)
	ctlDone := make(chan struct{})
	go func() { ctl.Run(ctx); close(ctlDone) }()
	fnsDone := make(chan struct{})
	go func() { fns.Run(ctx); close(fnsDone) }()
	meterDone := make(chan struct{})
	go func() { meter.Run(ctx); close(meterDone) }()
	alarmsDone := make(chan struct{})
	go func() { alarms.Run(ctx); close(alarmsDone) }()
	accessDone := make(chan struct{})
	go func() { accessLog.Run(ctx); close(accessDone) }()
	logsDone := make(chan struct{})
	go func() { logs.Run(ctx); close(logsDone) }()
	collector := logstore.NewCollector(logstore.CollectorConfig{Store: logs, Engine: eng, Selectors: []map[string]string{ctl.Labels(), fns.Labels()}, Logger: log})
	collectorDone := make(chan struct{})
	go func() { collector.Run(ctx); close(collectorDone) }()
	metricsDone := make(chan struct{})
	go func() { metricsStore.Run(ctx); close(metricsDone) }()
	samplerDone := make(chan struct{})
	go func() {
		telemetry.NewSampler(metricsStore, metricsSource{st, []instanceLister{ctl, fns}}, eng, log).Run(ctx)
		close(samplerDone)
	}()
	if lTLS != nil {
		log.Info("serving custom domains over HTTPS", "https", lTLS.Addr().String(), "acme_ca", certsCA(cfg.ACMECA))
	}
	log.Info("slipway server ready", "version", cfg.Version, "api", apiURL, "gateway", lGW.Addr().String(),
		"registry", registryHost, "domain", cfg.Domain, "docker", ver.Version, "credentials", credPath)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down; instances keep running and are adopted on the next start")
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	front.Shutdown(sctx)
	for _, srv := range servers {
		srv.Shutdown(sctx)
	}
	gw.CloseIdleConnections()
	// Jobs and the controller use the store and engine closed on return.
	<-ctlDone
	<-fnsDone
	svc.Wait()
	<-meterDone // after the jobs: its last flush sees every invocation
	<-accessDone
	<-collectorDone
	<-logsDone   // the log store closes on return, after its writers
	<-alarmsDone // its last deliveries record their outcome in the store
	<-metricsDone
	<-samplerDone
	ctl.Wait()
	return runErr
}

// adminToken returns the admin token from the credentials file when its
// hash matches the one in the store. Otherwise (first start, or a lost
// credentials file) it makes a new one; only its hash is stored.
func adminToken(ctx context.Context, st *sqlite.Store, dataDir string) (token string, rotated bool, err error) {
	stored, err := st.GetSetting(ctx, tokenSetting)
	if err != nil && !core.IsNotFound(err) {
		return "", false, err
	}
	if vals, rerr := credentials.Read(credentials.Path(dataDir)); rerr == nil && stored != "" {
		h := sha256.Sum256([]byte(vals[credentials.Token]))
		if hex.EncodeToString(h[:]) == stored {
			return vals[credentials.Token], false, nil
		}
	}
	b := make([]byte, 24)
	rand.Read(b)
	token = "slw_" + hex.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	if err := st.PutSetting(ctx, tokenSetting, hex.EncodeToString(h[:])); err != nil {
		return "", false, err
	}
	return token, stored != "", nil
}

// holdsSealed reports whether any stack keeps sealed values.
func holdsSealed(ctx context.Context, st *sqlite.Store) bool {
	stacks, err := st.ListStacks(ctx)
	if err != nil {
		return true // cannot tell: do not risk a new key
	}
	for _, s := range stacks {
		if s.Repo != nil && s.Repo.WebhookSecret != "" {
			return true
		}
		for _, secs := range s.Secrets {
			if len(secs) > 0 {
				return true
			}
		}
	}
	return false
}

// settingOrNew returns a stored setting, first storing a random hex
// value of n bytes if there is none.
func settingOrNew(ctx context.Context, st *sqlite.Store, key string, n int) (string, error) {
	v, err := st.GetSetting(ctx, key)
	if err == nil {
		return v, nil
	}
	if !core.IsNotFound(err) {
		return "", err
	}
	b := make([]byte, n)
	rand.Read(b)
	v = hex.EncodeToString(b)
	return v, st.PutSetting(ctx, key, v)
}

func listen(what, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the %s on %s: %w (is another slipway server running? pick another address with --%s-addr)", what, addr, err, what)
	}
	return l, nil
}

// loopbackAddr turns a wildcard listen address into one clients on this
// machine can dial (and that Docker treats as an insecure registry).
func loopbackAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// acmeRoots reads extra roots to trust the ACME CA's own HTTPS with.
func acmeRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --acme-ca-root: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--acme-ca-root %s holds no PEM certificate", path)
	}
	return pool, nil
}

func certsCA(ca string) string {
	if ca == "" {
		return certs.DefaultCA
	}
	return ca
}
