package container

import (
	"sort"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/reconcile"
)

// Routes builds the gateway's routes: one per stage of every stack, with
// the routable instances' addresses as backends. A stage with none still
// gets a route, so the gateway answers 502 (no healthy instance) and not
// 404 (no such stack).
func Routes(domain string, stages []reconcile.Key, routable map[reconcile.Key][]string, addr map[string]string) []gateway.Route {
	routes := make([]gateway.Route, 0, len(stages))
	for _, k := range stages {
		var b []gateway.Backend
		for _, id := range routable[k] {
			if a := addr[id]; a != "" {
				b = append(b, gateway.Backend{ID: id, Addr: a})
			}
		}
		sort.Slice(b, func(i, j int) bool { return b[i].ID < b[j].ID })
		routes = append(routes, gateway.Route{Host: core.Hostname(k.Stack, k.Stage, domain), Stack: k.Stack, Stage: k.Stage, Backends: b})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Host < routes[j].Host })
	return routes
}
