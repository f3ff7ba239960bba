package server

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/endpoint"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
)

// TestRoutingIdleTimeout: slipway.yml's balancer idle_timeout reaches
// the stage's route (and its custom domain's); a balancer stage without
// one gets the ALB's 60 s, and a gateway stage none (the server's).
func TestRoutingIdleTimeout(t *testing.T) {
	spec, err := manifest.Parse("slipway.yml", []byte(`name: shop
endpoint:
  kind: balancer
stages:
  - name: dev
    endpoint:
      balancer: {idle_timeout: 5s}
  - name: qa
    endpoint:
      balancer: {idle_timeout: 4000s}
  - name: stock
  - name: prod
    endpoint:
      kind: gateway
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	if err := st.CreateStack(ctx, core.Stack{Name: "shop", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDomain(ctx, core.Domain{Name: "shop.example.com", Stack: "shop", Stage: "dev"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	gw := gateway.New(gateway.Config{})
	rt := &routing{ctx: ctx, gw: gw, store: st, log: log,
		endpoints: endpoint.NewManager(endpoint.Config{Store: st, Logger: log, Context: ctx})}
	var routes []gateway.Route
	for _, stage := range []string{"dev", "qa", "stock", "prod"} {
		routes = append(routes, gateway.Route{Host: core.Hostname("shop", stage, "localhost"), Stack: "shop", Stage: stage})
	}
	rt.setContainer(routes)
	rt.reload()

	for host, want := range map[string]time.Duration{
		"dev.shop.localhost":   5 * time.Second,
		"shop.example.com":     5 * time.Second,
		"qa.shop.localhost":    4000 * time.Second,
		"stock.shop.localhost": core.DefaultIdleTimeout,
		"prod.shop.localhost":  0,
	} {
		r, ok := gw.Table().Lookup(host)
		if !ok {
			t.Errorf("%s: no route", host)
			continue
		}
		if r.IdleTimeout != want {
			t.Errorf("%s: idle timeout %v, want %v", host, r.IdleTimeout, want)
		}
	}
}
