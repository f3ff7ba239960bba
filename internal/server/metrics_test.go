package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry"
)

func TestRequestMetricThrottled(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		attempts int
		want     bool
	}{
		{"the gateway's own 429 (plan, quota, serverless queue)", 429, 0, true},
		{"an app's 429", 429, 1, false},
		{"a 502 without an instance", 502, 0, false},
		{"a 200", 200, 1, false},
	}
	for _, tt := range tests {
		r := requestMetric(gateway.RequestInfo{Stack: "s", Stage: "dev", Status: tt.status, Attempts: tt.attempts, Duration: time.Millisecond})
		if r.Throttled != tt.want {
			t.Errorf("%s: throttled = %v, want %v", tt.name, r.Throttled, tt.want)
		}
	}
}

func TestCountOutcome(t *testing.T) {
	now := time.Now()
	m, err := telemetry.Open(telemetry.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []service.Outcome{
		{Stack: "s", Build: "b1", Succeeded: true},
		{Stack: "s", Build: "b2"},
		{Stack: "s", Build: "b3"},
		{Stack: "s", Stage: "dev", Build: "b1", Release: "r1", Succeeded: true},
		{Stack: "s", Stage: "dev", Build: "b2", Release: "r2"},
	} {
		countOutcome(m, o)
	}
	now = now.Add(telemetry.FineStep)
	m.Close() // closes the window
	tests := []struct {
		key  telemetry.Key
		want float64
	}{
		{telemetry.Key{Stack: "s", Metric: telemetry.BuildsSucceeded}, 1},
		{telemetry.Key{Stack: "s", Metric: telemetry.BuildsFailed}, 2},
		{telemetry.Key{Stack: "s", Stage: "dev", Metric: telemetry.ReleasesSucceeded}, 1},
		{telemetry.Key{Stack: "s", Stage: "dev", Metric: telemetry.ReleasesFailed}, 1},
	}
	for _, tt := range tests {
		var sum float64
		for _, p := range m.Query(tt.key, now.Add(-time.Minute), now.Add(time.Minute), 0) {
			sum += p.V
		}
		if sum != tt.want {
			t.Errorf("%s: %v, want %v", tt.key.Metric, sum, tt.want)
		}
	}
}

type fakeStacks []core.Stack

func (f fakeStacks) ListStacks(context.Context) ([]core.Stack, error) { return f, nil }

type fakeLister []core.Instance

func (f fakeLister) Instances(string) []core.Instance { return f }

func TestMetricsSource(t *testing.T) {
	stacks := fakeStacks{
		{Name: "web", Spec: core.StackSpec{Architecture: core.ArchContainer, Stages: []core.StageSpec{
			{Name: "dev", Scale: core.ScaleSpec{Max: 1, CPU: 0.5}}, {Name: "prod", Scale: core.ScaleSpec{Max: 1, CPU: 2}}}}},
		{Name: "fn", Spec: core.StackSpec{Architecture: core.ArchServerless, Stages: []core.StageSpec{
			{Name: "dev", Serverless: core.ServerlessSpec{MemoryMB: 1769}}}}},
	}
	containers := fakeLister{
		{ID: "c1", Name: "web-dev-1", Stack: "web", Stage: "dev", State: "running"},
		{ID: "c2", Name: "web-dev-2", Stack: "web", Stage: "dev", State: "stopping"},
		{ID: "c3xxxxxxxxxxxxxx", Stack: "web", Stage: "prod", State: "running"},
	}
	functions := fakeLister{
		{ID: "f1", Name: "fn-dev-a", Stack: "fn", Stage: "dev", State: "frozen"},
		{ID: "f2", Name: "fn-dev-b", Stack: "fn", Stage: "dev", State: "starting"},
	}
	got, err := metricsSource{stacks, []instanceLister{containers, functions}}.Stages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []telemetry.StageInstances{
		{Stack: "web", Stage: "dev", CPUs: 0.5, Instances: []telemetry.InstanceRef{{ID: "c1", Name: "web-dev-1"}}},
		{Stack: "web", Stage: "prod", CPUs: 2, Instances: []telemetry.InstanceRef{{ID: "c3xxxxxxxxxxxxxx", Name: "c3xxxxxxxxxx"}}},
		{Stack: "fn", Stage: "dev", CPUs: core.ServerlessSpec{MemoryMB: 1769}.CPU(), Instances: []telemetry.InstanceRef{{ID: "f1", Name: "fn-dev-a"}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
