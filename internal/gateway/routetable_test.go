package gateway

import (
	"slices"
	"testing"
)

func TestRouteTableLookup(t *testing.T) {
	table := NewRouteTable([]Route{
		{Host: "dev.hello.localhost", Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: "10.0.0.1:8080"}}},
		{Host: "Prod.Hello.Localhost.", Stack: "hello", Stage: "prod"},
	})
	tests := []struct {
		host      string
		wantStage string // "" means no match
	}{
		{"dev.hello.localhost", "dev"},
		{"DEV.Hello.LOCALHOST", "dev"},
		{"dev.hello.localhost:8080", "dev"},
		{"dev.hello.localhost.", "dev"},
		{"dev.hello.localhost.:8080", "dev"},
		{"prod.hello.localhost", "prod"}, // the table normalises its own hosts too
		{"PROD.hello.localhost.:443", "prod"},
		{"hello.localhost", ""},
		{"x.dev.hello.localhost", ""},
		{"", ""},
		{":8080", ""},
		{"[::1]:8080", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			r, ok := table.Lookup(tt.host)
			if tt.wantStage == "" {
				if ok {
					t.Fatalf("Lookup(%q) = %+v, want no match", tt.host, r)
				}
				return
			}
			if !ok || r.Stage != tt.wantStage {
				t.Fatalf("Lookup(%q) = %+v, %v; want stage %q", tt.host, r, ok, tt.wantStage)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := map[string]string{
		"a.b.localhost":        "a.b.localhost",
		"A.B.Localhost:80":     "a.b.localhost",
		"a.b.localhost.":       "a.b.localhost",
		"[::1]:8080":           "[::1]",
		"[::1]":                "[::1]",
		"127.0.0.1:8080":       "127.0.0.1",
		"":                     "",
		"dev.hello.localhost:": "dev.hello.localhost",
	}
	for in, want := range tests {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeHostDoesNotAllocate(t *testing.T) {
	host := "dev.hello.localhost:8080"
	if n := testing.AllocsPerRun(100, func() { _ = normalizeHost(host) }); n != 0 {
		t.Fatalf("normalizeHost allocates %v times per call", n)
	}
}

func TestRouteTableIsASnapshot(t *testing.T) {
	backends := []Backend{{ID: "a", Addr: "10.0.0.1:8080"}}
	routes := []Route{{Host: "dev.hello.localhost", Stack: "hello", Stage: "dev", Backends: backends}}
	table := NewRouteTable(routes)

	routes[0].Stage = "mutated"
	routes[0].Host = "other.localhost"
	backends[0].Addr = "10.9.9.9:1"
	routes = append(routes, Route{Host: "new.localhost"})

	r, ok := table.Lookup("dev.hello.localhost")
	if !ok || r.Stage != "dev" || r.Backends[0].Addr != "10.0.0.1:8080" {
		t.Fatalf("table changed with its input: %+v, %v", r, ok)
	}
	if _, ok := table.Lookup("new.localhost"); ok {
		t.Fatal("route appended to the input slice appeared in the table")
	}

	// Routes hands out copies too.
	got := table.Routes()
	got[0].Stage = "mutated"
	got[0].Backends[0].Addr = "10.9.9.9:1"
	if r, _ := table.Lookup("dev.hello.localhost"); r.Stage != "dev" || r.Backends[0].Addr != "10.0.0.1:8080" {
		t.Fatalf("table changed through Routes(): %+v", r)
	}
}

func TestRouteTableRoutesSortedAndDeduplicated(t *testing.T) {
	table := NewRouteTable([]Route{
		{Host: "prod.b.localhost", Stage: "prod"},
		{Host: "dev.a.localhost", Stage: "dev"},
		{Host: "", Stage: "dropped"},
		{Host: "DEV.A.localhost", Stage: "duplicate"},
		{Host: "dev.b.localhost", Stage: "dev"},
	})
	var hosts []string
	for _, r := range table.Routes() {
		hosts = append(hosts, r.Host)
	}
	want := []string{"dev.a.localhost", "dev.b.localhost", "prod.b.localhost"}
	if !slices.Equal(hosts, want) {
		t.Fatalf("Routes() hosts = %v, want %v", hosts, want)
	}
	if table.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", table.Len())
	}
	if r, _ := table.Lookup("dev.a.localhost"); r.Stage != "dev" {
		t.Fatalf("duplicate host: got stage %q, want the first route's", r.Stage)
	}
}

func TestNilAndEmptyRouteTable(t *testing.T) {
	var nilTable *RouteTable
	if _, ok := nilTable.Lookup("x"); ok || nilTable.Routes() != nil || nilTable.Len() != 0 {
		t.Fatal("nil table must be empty")
	}
	empty := NewRouteTable(nil)
	if _, ok := empty.Lookup("x"); ok || len(empty.Routes()) != 0 {
		t.Fatal("empty table must be empty")
	}
}
