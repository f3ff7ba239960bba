// Package endpoint is the gateway endpoint's request path, per stage:
// CORS, the payload limit, API keys, the JWT authorizer and the
// throttles (stage, usage plan, quota), in API Gateway's order and with
// its answers. The balancer endpoint has none of it.
//
// A Manager keeps one Stage per gateway stage, rebuilt only when the
// stage's spec changes, so token buckets and JWKS caches survive route
// table swaps; API keys are looked up by hash in an index reloaded from
// the store when keys change.
package endpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/endpoint/cors"
	"github.com/slipwayhq/slipway/internal/endpoint/jwtauth"
	"github.com/slipwayhq/slipway/internal/endpoint/limit"
	"github.com/slipwayhq/slipway/internal/store"
)

// HeaderAPIKey is where clients send their API key, as on API Gateway.
const HeaderAPIKey = "x-api-key"

// Config wires a Manager.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// HTTPClient fetches JWKS; default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// OnKey, when set, is told the name of the API key a request used
	// (for the access log); w is the request's ResponseWriter.
	OnKey func(w http.ResponseWriter, name string)
	Now   func() time.Time
	// Context bounds the stages' background work (quota flushes).
	Context context.Context
}

// Manager holds the gateway stages' request paths.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	byID map[string]*Stage // "stack/stage"
	keys atomic.Pointer[map[string]core.APIKey]
}

// NewManager builds a Manager; call ReloadKeys before serving.
func NewManager(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("component", "endpoint"), byID: map[string]*Stage{}}
	empty := map[string]core.APIKey{}
	m.keys.Store(&empty)
	return m
}

// ReloadKeys reads every API key from the store into the lookup index.
func (m *Manager) ReloadKeys(ctx context.Context) error {
	keys, err := m.cfg.Store.ListAPIKeys(ctx, "", "")
	if err != nil {
		return fmt.Errorf("read api keys: %w", err)
	}
	idx := make(map[string]core.APIKey, len(keys))
	for _, k := range keys {
		idx[k.Hash] = k
	}
	m.keys.Store(&idx)
	return nil
}

// quotas adapts the store to limit.QuotaStore.
type quotas struct{ st store.Store }

func (q quotas) Add(ctx context.Context, keyID string, periodStart time.Time, n int64) (int64, error) {
	return q.st.AddQuotaUse(ctx, keyID, periodStart, n)
}

// Stage returns the request path of a gateway stage for spec, building
// it if the stage is new or its spec changed. A spec that cannot be
// built (a JWKS URL that does not parse, say) gives a Stage that answers
// 500 and says why in the log, rather than one that lets requests past
// an authorizer it could not make.
func (m *Manager) Stage(stack, stage string, spec core.GatewaySpec) *Stage {
	id := stack + "/" + stage
	b, _ := json.Marshal(spec)
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:8])
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.byID[id]; st != nil && st.hash == hash {
		return st
	}
	st, err := m.build(stack, stage, spec)
	if err != nil {
		m.log.Error("gateway stage refused: its endpoint settings could not be applied", "stack", stack, "stage", stage, "err", err)
		st = &Stage{broken: err.Error()}
	}
	st.hash = hash
	if old := m.byID[id]; old != nil {
		go old.stop() // not under m.mu: closing a JWKS fetch may wait
	}
	m.byID[id] = st
	return st
}

// stop ends a replaced stage's background work, flushing its quota
// counts.
func (s *Stage) stop() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.jwt != nil {
		s.jwt.Close()
	}
}

// Forget drops stages not in keep ("stack/stage" ids).
func (m *Manager) Forget(keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, st := range m.byID {
		if !keep[id] {
			go st.stop()
			delete(m.byID, id)
		}
	}
}

func (m *Manager) build(stack, stage string, spec core.GatewaySpec) (*Stage, error) {
	st := &Stage{m: m, stack: stack, stage: stage, spec: spec}
	var err error
	if st.limiter, err = limit.New(spec.Throttle, spec.UsagePlans, quotas{m.cfg.Store}, m.cfg.Now); err != nil {
		return nil, err
	}
	if spec.CORS != nil {
		if st.cors, err = cors.New(*spec.CORS); err != nil {
			return nil, err
		}
	}
	if spec.JWT != nil {
		if st.jwt, err = jwtauth.New(*spec.JWT, m.cfg.HTTPClient, m.log); err != nil {
			return nil, err
		}
	}
	// Last, so a stage that failed to build leaves no goroutine.
	ctx, cancel := context.WithCancel(m.cfg.Context)
	st.cancel = cancel
	go st.limiter.Run(ctx, m.log)
	return st, nil
}

// Stage is one gateway stage's request path.
type Stage struct {
	m            *Manager
	stack, stage string
	spec         core.GatewaySpec
	hash         string
	broken       string
	limiter      *limit.Limiter
	cancel       context.CancelFunc
	cors         *cors.CORS
	jwt          *jwtauth.Authorizer
}

// Wrap returns next behind the stage's checks: CORS (preflights are
// answered here), the payload limit (413), the API key (403), the JWT
// authorizer (401/403) and the throttles (429), with API Gateway's
// bodies.
func (s *Stage) Wrap(next http.Handler) http.Handler {
	if s.broken != "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			message(w, http.StatusInternalServerError, "Internal server error")
		})
	}
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.admit(w, r, next)
	}))
	if s.jwt != nil {
		inner := h
		h = s.jwt.Middleware(inner)
	}
	if s.cors != nil {
		h = s.cors.Middleware(h)
	}
	return h
}

// HeadOnly reports whether the stage's checks need only a request's
// method, API key and Content-Length, so that Admit makes all of them:
// true unless the stage has CORS or a JWT authorizer.
func (s *Stage) HeadOnly() bool {
	return s.jwt == nil && s.cors == nil
}

// Admit makes Wrap's checks on a request known by its head alone, for a
// HeadOnly stage: it returns a zero status to let the request through,
// or the response to send instead. keyName is the name of the API key
// the request used, when it sent a known one.
func (s *Stage) Admit(ctx context.Context, apiKey string, contentLength int64) (status int, header http.Header, body []byte, keyName string) {
	if s.broken != "" {
		status, body := refusal(http.StatusInternalServerError, "Internal server error")
		return status, answerHeader(body, ""), body, ""
	}
	keyName, status, body, retryAfter := s.check(ctx, apiKey, contentLength)
	if status == 0 {
		return 0, nil, nil, keyName
	}
	return status, answerHeader(body, retryAfter), body, keyName
}

// admit checks the API key, the payload limit and the throttles, then
// passes the request on.
func (s *Stage) admit(w http.ResponseWriter, r *http.Request, next http.Handler) {
	keyName, status, body, retryAfter := s.check(r.Context(), r.Header.Get(HeaderAPIKey), r.ContentLength)
	if keyName != "" && s.m.cfg.OnKey != nil {
		s.m.cfg.OnKey(w, keyName)
	}
	if status != 0 {
		for k, v := range answerHeader(body, retryAfter) {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	if s.spec.MaxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.spec.MaxBody)
	}
	// The key never reaches the app.
	r.Header.Del(HeaderAPIKey)
	next.ServeHTTP(w, r)
}

// check makes the checks of admit: the API key (403), the payload limit
// (413) and the throttles (429). It returns the name of the known key
// the request sent, if any, and a zero status to pass the request on,
// or the refusal's status, body and Retry-After value.
func (s *Stage) check(ctx context.Context, apiKey string, contentLength int64) (keyName string, status int, body []byte, retryAfter string) {
	keyID, plan := "", ""
	if apiKey != "" {
		k, ok := (*s.m.keys.Load())[core.HashAPIKey(apiKey)]
		if !ok || k.Stack != s.stack || k.Stage != s.stage {
			status, body = refusal(http.StatusForbidden, "Forbidden")
			return "", status, body, ""
		}
		keyID, plan, keyName = k.Stack+"/"+k.ID, k.Plan, k.Name
	} else if s.spec.APIKeys == "required" {
		status, body = refusal(http.StatusForbidden, "Forbidden")
		return "", status, body, ""
	}
	if s.spec.MaxBody > 0 && contentLength > s.spec.MaxBody {
		status, body = refusal(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return keyName, status, body, ""
	}
	if d := s.limiter.Allow(ctx, keyID, plan); !d.OK {
		body, retryAfter = limit.Answer(d)
		return keyName, http.StatusTooManyRequests, body, retryAfter
	}
	return keyName, 0, nil, ""
}

// refusal is API Gateway's answer with msg: {"message": "..."}.
func refusal(status int, msg string) (int, []byte) {
	return status, []byte(`{"message":` + strconv.Quote(msg) + "}")
}

// answerHeader is the header of a refusal with body.
func answerHeader(body []byte, retryAfter string) http.Header {
	h := http.Header{
		"Content-Type":   {"application/json"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	if retryAfter != "" {
		h["Retry-After"] = []string{retryAfter}
	}
	return h
}

// message writes API Gateway's error body, {"message": "..."}.
func message(w http.ResponseWriter, status int, msg string) {
	body := `{"message":` + strconv.Quote(msg) + "}"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}
