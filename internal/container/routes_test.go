package container

import (
	"reflect"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/reconcile"
)

func TestRoutes(t *testing.T) {
	dev, prod, api := reconcile.Key{Stack: "hello", Stage: "dev"}, reconcile.Key{Stack: "hello", Stage: "prod"}, reconcile.Key{Stack: "api", Stage: "dev"}
	got := Routes("localhost", []reconcile.Key{dev, prod, api},
		map[reconcile.Key][]string{dev: {"b", "a", "gone"}},
		map[string]string{"a": "10.0.0.1:8000", "b": "10.0.0.2:8000"})
	want := []gateway.Route{
		{Host: "dev.api.localhost", Stack: "api", Stage: "dev"},
		{Host: "dev.hello.localhost", Stack: "hello", Stage: "dev", Backends: []gateway.Backend{{ID: "a", Addr: "10.0.0.1:8000"}, {ID: "b", Addr: "10.0.0.2:8000"}}},
		{Host: "prod.hello.localhost", Stack: "hello", Stage: "prod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestInstanceEnv(t *testing.T) {
	rel := coreRelease()
	if got, want := rel.Env(), []string{"PORT=8000", "A=1", "B=2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func coreRelease() core.Release {
	return core.Release{Stage: "dev", Spec: core.StackSpec{Port: 8000, Stages: []core.StageSpec{
		{Name: "dev", Env: map[string]string{"B": "2", "A": "1"}}, {Name: "prod", Env: map[string]string{"C": "3"}},
	}}}
}
