package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/slipwayhq/slipway/internal/certs"
	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/endpoint"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/store"
)

// routing builds the gateway's route table from the two controllers'
// routes, dressed with each stage's endpoint (the gateway's checks, or
// the balancer's settings) and path routes, plus a route per custom
// domain; and it keeps the certificate manager on the custom domains.
type routing struct {
	ctx       context.Context
	gw        *gateway.Gateway
	store     store.Store
	endpoints *endpoint.Manager
	certs     *certs.Manager // nil: no HTTPS listener
	log       *slog.Logger

	publishMu  sync.Mutex // one publish at a time: tables go in in order
	mu         sync.Mutex
	container  []gateway.Route
	serverless []gateway.Route
	domains    []core.Domain
	managed    []string // domain names handed to certs
}

func (rt *routing) setContainer(routes []gateway.Route) {
	rt.mu.Lock()
	rt.container = routes
	rt.mu.Unlock()
	rt.publish()
}

func (rt *routing) setServerless(routes []gateway.Route) {
	rt.mu.Lock()
	rt.serverless = routes
	rt.mu.Unlock()
	rt.publish()
}

// reload rereads API keys and domains (they changed), then republishes.
func (rt *routing) reload() {
	if err := rt.endpoints.ReloadKeys(rt.ctx); err != nil {
		rt.log.Warn("reload api keys", "err", err)
	}
	ds, err := rt.store.ListDomains(rt.ctx, "")
	if err != nil {
		rt.log.Warn("reload domains", "err", err)
		return
	}
	rt.mu.Lock()
	rt.domains = ds
	rt.mu.Unlock()
	rt.publish()
	rt.manageCerts(ds)
}

// manageCerts hands the custom domains to the certificate manager when
// the set changed.
func (rt *routing) manageCerts(ds []core.Domain) {
	if rt.certs == nil {
		return
	}
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	rt.mu.Lock()
	same := slices.Equal(names, rt.managed)
	rt.managed = names
	rt.mu.Unlock()
	if same {
		return
	}
	if err := rt.certs.Manage(rt.ctx, names); err != nil {
		rt.log.Warn("manage certificates", "err", err)
	}
}

// publish builds and installs the route table. Runs are serialised, so
// a table built from older state never replaces a newer one.
func (rt *routing) publish() {
	rt.publishMu.Lock()
	defer rt.publishMu.Unlock()
	stacks, err := rt.store.ListStacks(rt.ctx)
	if err != nil {
		rt.log.Warn("route table: read stacks", "err", err)
		return
	}
	specs := make(map[string]core.StackSpec, len(stacks))
	for _, s := range stacks {
		specs[s.Name] = s.Spec
	}
	rt.mu.Lock()
	base := append(slices.Clone(rt.container), rt.serverless...)
	domains := rt.domains
	rt.mu.Unlock()

	byStage := make(map[string]int, len(base)) // "stack/stage" → index in base
	keep := map[string]bool{}
	for i := range base {
		r := &base[i]
		id := r.Stack + "/" + r.Stage
		byStage[id] = i
		spec, ok := specs[r.Stack]
		stage, found := spec.Stage(r.Stage)
		if !ok || !found {
			// Fail closed: a stage whose settings cannot be read gets
			// no request through unchecked.
			r.Middleware = unavailable
			continue
		}
		ep := stage.EffectiveEndpoint()
		switch ep.Kind {
		case core.EndpointBalancer:
			r.Balance = ep.Balancer.Algorithm
			r.Sticky = ep.Balancer.Sticky.D()
			r.IdleTimeout = ep.Balancer.IdleTimeout.D()
		default:
			keep[id] = true
			st := rt.endpoints.Stage(r.Stack, r.Stage, ep.Gateway)
			r.Middleware = st.Wrap
			if st.HeadOnly() {
				// The gateway's fast path checks such stages from a
				// request's head, without net/http.
				r.Admit = func(a gateway.AdmitRequest) gateway.Admission {
					status, h, body, name := st.Admit(context.Background(), a.APIKey, a.ContentLength)
					return gateway.Admission{Status: status, Header: h, Body: body, APIKeyName: name}
				}
			}
			r.Timeout = ep.Gateway.Timeout.D()
		}
	}
	rt.endpoints.Forget(keep)
	// Path routes point at another stage's route (by host).
	for i := range base {
		r := &base[i]
		spec, ok := specs[r.Stack]
		if !ok {
			continue
		}
		stage, _ := spec.Stage(r.Stage)
		for _, p := range stage.Routes {
			stack := p.Stack
			if stack == "" {
				stack = r.Stack
			}
			if j, ok := byStage[stack+"/"+p.Stage]; ok {
				r.Paths = append(r.Paths, gateway.PathRoute{Prefix: p.Path, Host: base[j].Host, Strip: p.Strip})
			}
		}
	}
	routes := base
	for _, d := range domains {
		if j, ok := byStage[d.Stack+"/"+d.Stage]; ok {
			r := base[j]
			r.Host = d.Name
			routes = append(routes, r)
		}
	}
	rt.gw.Update(gateway.NewRouteTable(routes))
}

// unavailable answers every request 503: a stage whose endpoint
// settings are unknown (its stack is being deleted, say).
func unavailable(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"message":"Service Unavailable"}`))
	})
}
