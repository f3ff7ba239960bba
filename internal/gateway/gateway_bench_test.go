package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGateway compares a small GET sent straight to a backend with
// the same GET through the gateway, over real loopback connections with
// keep-alive. Client, gateway and backend share the process and its CPUs,
// so read the ratio, not the absolute numbers; allocations are those of
// all three. Not an assertion: run with go test -bench Gateway -run '^$'.
func BenchmarkGateway(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	}))
	defer backend.Close()
	g := New(Config{})
	g.Update(NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev",
		Backends: []Backend{{ID: "a", Addr: backend.Listener.Addr().String()}}}}))
	front := httptest.NewServer(g)
	defer front.Close()
	defer g.CloseIdleConnections()
	strict := httptest.NewUnstartedServer(g)
	strict.Listener = StrictListener(strict.Listener)
	strict.Start()
	defer strict.Close()

	b.Run("direct", func(b *testing.B) { benchGet(b, backend.URL, "") })
	b.Run("gateway", func(b *testing.B) { benchGet(b, front.URL, testHost) })
	b.Run("gateway-strict", func(b *testing.B) { benchGet(b, strict.URL, testHost) })
}

func benchGet(b *testing.B, url, host string) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8) // 8 × GOMAXPROCS concurrent clients, like wrk -c16 on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.Host = host
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkNewRequestID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = newRequestID()
	}
}

func BenchmarkLookup(b *testing.B) {
	routes := make([]Route, 1000)
	for i := range routes {
		routes[i] = Route{Host: "dev.stack" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".localhost"}
	}
	routes = append(routes, Route{Host: testHost})
	table := NewRouteTable(routes)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := table.Lookup("dev.hello.localhost:8080"); !ok {
			b.Fatal("no route")
		}
	}
}
