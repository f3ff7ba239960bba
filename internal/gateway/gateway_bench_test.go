package gateway

import (
	"bytes"
	"io"
	"net"
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

// BenchmarkFrontend is one keep-alive client connection through the
// fast path to a canned backend, both reading and writing fixed buffers:
// its allocations are the fast path's own.
func BenchmarkFrontend(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					// One request per read: the gateway waits for each answer.
					if bytes.HasSuffix(buf[:n], []byte("\r\n\r\n")) {
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	g := New(Config{OnRequest: func(RequestInfo) {}})
	g.Update(NewRouteTable([]Route{{Host: testHost, Stack: "hello", Stage: "dev", Backends: []Backend{{ID: "a", Addr: ln.Addr().String()}}}}))
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fe := g.NewFrontend(FrontendConfig{})
	go fe.Serve(fl)
	defer fe.Close()
	c, err := net.Dial("tcp", fl.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /ping HTTP/1.1\r\nHost: " + testHost + "\r\nUser-Agent: bench\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		got := 0
		for !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nok")) {
			n, err := c.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}
