package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

// Service is what the API needs of the use cases (service.Service).
type Service interface {
	List(ctx context.Context) ([]core.StackStatus, error)
	Status(ctx context.Context, name string) (core.StackStatus, error)
	CreateStack(ctx context.Context, name string) (core.Stack, error)
	Delete(ctx context.Context, name string) error
	Deploy(ctx context.Context, stack string, body io.Reader) (*service.Job, error)
	FollowBuild(ctx context.Context, stack, build string, fn func(core.Event) error) error
	Builds(ctx context.Context, stack string) ([]core.Build, error)
	Build(ctx context.Context, stack, id string) (core.Build, error)
	Releases(ctx context.Context, stack, stage string) ([]core.Release, error)
	ReadLogs(ctx context.Context, stack string, q service.LogQuery, fn func(logstore.Entry) error) error
	LogKeys(ctx context.Context, stack string, q service.LogQuery) ([]logstore.Key, error)
	Scale(ctx context.Context, stack, stage string, ch service.ScaleChange) (core.ScaleSpec, error)
	Events(ctx context.Context, stack, stage string, limit int) ([]core.StageEvent, error)
	Abort(ctx context.Context, stack, stage string) (string, error)
	Exec(ctx context.Context, stack, stage, instance string, cmd []string, stdout, stderr io.Writer) (int, error)
	Rollback(ctx context.Context, stack, stage, to string, emit func(core.Event)) (core.Release, error)
	Approve(ctx context.Context, stack, stage, expect string, emit func(core.Event)) (core.Release, error)
	SetEnv(ctx context.Context, stack, stage string, ch service.EnvChange, emit func(core.Event)) (core.Release, error)
	SetBuildEnv(ctx context.Context, stack string, ch service.EnvChange) error
	Env(ctx context.Context, stack, stage string) ([]service.EnvVar, error)
	Retry(ctx context.Context, stack, build string) (*service.Job, error)
	CreateStackFromRepo(ctx context.Context, name string, opts service.RepoOptions) (core.Stack, string, error)
	Webhook(ctx context.Context, h service.Hook) (string, error)
	Usage(ctx context.Context, stack, stage string, since time.Duration) (core.Usage, error)
	Invoke(ctx context.Context, stack, stage string, event []byte) ([]byte, error)
	CreateAPIKey(ctx context.Context, stack, stage, name, plan string) (core.APIKey, string, error)
	APIKeys(ctx context.Context, stack, stage string) ([]core.APIKey, error)
	DeleteAPIKey(ctx context.Context, stack, id string) error
	AddDomain(ctx context.Context, stack, stage, name string) (core.Domain, error)
	Domains(ctx context.Context, stack string) ([]core.Domain, error)
	RemoveDomain(ctx context.Context, name string) error
	SetEndpointKind(ctx context.Context, stack, stage, kind string) (core.EndpointSpec, error)
	Exports
}

var _ Service = (*service.Service)(nil)

// Info describes the server to clients (GET /v1/info).
type Info struct {
	Version      string `json:"version"`
	Domain       string `json:"domain"`
	GatewayAddr  string `json:"gateway_addr"`
	RegistryAddr string `json:"registry_addr"`
	Docker       string `json:"docker"`
	DockerAPI    string `json:"docker_api"`
}

// MaxUpload bounds a compressed build context.
const MaxUpload = 1 << 30

// API is the /v1 HTTP handler.
type API struct {
	svc       Service
	tokenHash [32]byte
	info      Info
	log       *slog.Logger
	mux       *http.ServeMux
	routes    []route
	alarms    Alarms // see SetAlarms
	top       Top
	// metrics and exposition: see SetMetrics
	metrics    Metrics
	exposition http.Handler
}

// New returns the API. Every route but the OpenAPI document needs
// "Authorization: Bearer <token>".
func New(svc Service, token string, info Info, log *slog.Logger) *API {
	a := &API{svc: svc, tokenHash: sha256.Sum256([]byte(token)), info: info, log: log.With("component", "api"), mux: http.NewServeMux()}
	a.routes = append(a.table(), a.alarmRoutes()...)
	a.routes = append(a.routes, a.metricsRoutes()...)
	a.routes = append(a.routes, a.costRoutes()...)
	a.routes = append(a.routes, a.exportRoutes()...)
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+rt.pattern, a.wrap(rt))
	}
	return a
}

// ServeHTTP dispatches, answering unknown paths and methods in JSON too.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern == "" {
		if allowed := a.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{Code: "method_not_allowed",
				Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allowed, ", ")}})
			return
		}
		writeError(w, a.log, core.Errorf(core.CodeNotFound, "no API route %s %s; see GET /v1/openapi.json", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := a.mux.Handler(r2); p != "" {
			out = append(out, m)
		}
	}
	return out
}

func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.public && !a.authorized(r) {
			writeError(w, a.log, core.Errorf(core.CodeUnauthorized,
				"missing or wrong API token: send \"Authorization: Bearer <token>\"; the token is in the server's credentials file"))
			return
		}
		if err := rt.handle(w, r); err != nil {
			writeError(w, a.log, err)
		}
	})
}

func (a *API) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) == 1
}

func (a *API) getInfo(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.info)
	return nil
}

func (a *API) listStacks(w http.ResponseWriter, r *http.Request) error {
	list, err := a.svc.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// CreateStackRequest is the body of POST /v1/stacks; RepoURL makes the
// stack build from an external repository (webhook or polling).
type CreateStackRequest struct {
	Name string `json:"name"`
	service.RepoOptions
}

// CreateStackResponse names the stack and, for an external repository,
// its webhook: the secret is shown only here.
type CreateStackResponse struct {
	Name          string `json:"name"`
	RepoURL       string `json:"repo_url,omitempty"`
	Branch        string `json:"branch,omitempty"`
	WebhookPath   string `json:"webhook_path,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

func (a *API) createStack(w http.ResponseWriter, r *http.Request) error {
	var req CreateStackRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.URL == "" {
		st, err := a.svc.CreateStack(r.Context(), req.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, CreateStackResponse{Name: st.Name})
		return nil
	}
	st, secret, err := a.svc.CreateStackFromRepo(r.Context(), req.Name, req.RepoOptions)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CreateStackResponse{Name: st.Name, RepoURL: st.Repo.URL, Branch: st.Repo.Branch,
		WebhookPath: "/v1/hooks/" + st.Name, WebhookSecret: secret})
	return nil
}

// webhook takes GitHub and GitLab push deliveries: no bearer token (the
// providers cannot send one), but a signature checked against the
// stack's webhook secret.
func (a *API) webhook(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return core.Errorf(core.CodeInvalid, "read webhook body: %v", err)
	}
	event := r.Header.Get("X-GitHub-Event")
	if event == "" {
		event = r.Header.Get("X-Gitlab-Event")
	}
	res, err := a.svc.Webhook(r.Context(), service.Hook{Stack: r.PathValue("stack"), GitHubSig: r.Header.Get("X-Hub-Signature-256"),
		GitLabToken: r.Header.Get("X-Gitlab-Token"), Event: event, Body: body})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"result": res})
	return nil
}

func (a *API) getStack(w http.ResponseWriter, r *http.Request) error {
	st, err := a.svc.Status(r.Context(), r.PathValue("stack"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *API) deleteStack(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Delete(r.Context(), r.PathValue("stack")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createBuild(w http.ResponseWriter, r *http.Request) error {
	body := http.MaxBytesReader(w, r.Body, MaxUpload)
	job, err := a.svc.Deploy(r.Context(), r.PathValue("stack"), body)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("detach") == "true" {
		b, err := a.svc.Build(r.Context(), job.Stack, job.Build)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, b)
		return nil
	}
	w.Header().Set("Location", "/v1/stacks/"+job.Stack+"/builds/"+job.Build)
	return stream(w, r, http.StatusAccepted, func(fn func(core.Event) error) error {
		return job.Follow(r.Context(), fn)
	})
}

func (a *API) retryBuild(w http.ResponseWriter, r *http.Request) error {
	job, err := a.svc.Retry(r.Context(), r.PathValue("stack"), r.PathValue("build"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/stacks/"+job.Stack+"/builds/"+job.Build)
	return stream(w, r, http.StatusAccepted, func(fn func(core.Event) error) error {
		return job.Follow(r.Context(), fn)
	})
}

func (a *API) listBuilds(w http.ResponseWriter, r *http.Request) error {
	list, err := a.svc.Builds(r.Context(), r.PathValue("stack"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) getBuild(w http.ResponseWriter, r *http.Request) error {
	b, err := a.svc.Build(r.Context(), r.PathValue("stack"), r.PathValue("build"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (a *API) buildEvents(w http.ResponseWriter, r *http.Request) error {
	stack, build := r.PathValue("stack"), r.PathValue("build")
	if _, err := a.svc.Build(r.Context(), stack, build); err != nil {
		return err
	}
	return stream(w, r, http.StatusOK, func(fn func(core.Event) error) error {
		return a.svc.FollowBuild(r.Context(), stack, build, fn)
	})
}

func (a *API) listReleases(w http.ResponseWriter, r *http.Request) error {
	list, err := a.svc.Releases(r.Context(), r.PathValue("stack"), r.URL.Query().Get("stage"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.CodeInvalid, "bad JSON body: %v", err)
	}
	return nil
}
