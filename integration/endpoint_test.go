package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEndpoints: a gateway stage with API keys, a usage plan, CORS and a
// body limit; a balancer stage with sticky sessions; a path route and a
// custom domain; and the access log that names the key.
func TestEndpoints(t *testing.T) {
	s := startServer(t)
	app := fixtureApp(t, "ep", `stages:
  - name: dev
    routes:
      - {path: /shop, stage: lb, strip: true}
    endpoint:
      kind: gateway
      gateway:
        api_keys: required
        max_body: 1MB
        usage_plans:
          basic: {rate: 1, burst: 2, quota: {limit: 1000, period: day}}
        cors: {allow_origins: ["https://app.example.com"], allow_methods: [GET, POST]}
  - name: lb
    endpoint:
      kind: balancer
      balancer: {sticky: 1h}
    scale: {min: 2}
`)
	s.mustRun(app, "deploy", "-q")
	out := s.mustRun(app, "keys", "create", "ep", "dev", "--name", "mobile", "--plan", "basic").stdout
	key := regexp.MustCompile(`slk_[0-9a-f]+`).FindString(out)
	if key == "" {
		t.Fatalf("keys create printed no key:\n%s", out)
	}
	if line := errorLine(t, s.run(app, "keys", "create", "ep", "dev", "--name", "x", "--plan", "gold")); !strings.Contains(line, "no usage plan \"gold\"") || !strings.Contains(line, "basic") {
		t.Fatalf("unknown plan: %q", line)
	}
	if line := errorLine(t, s.run(app, "keys", "create", "ep", "lb", "--name", "x")); !strings.Contains(line, "balancer endpoint") {
		t.Fatalf("key on a balancer stage: %q", line)
	}
	list := s.mustRun(app, "keys", "list", "ep").stdout
	if !strings.Contains(list, "mobile") || strings.Contains(list, key) {
		t.Fatalf("keys list (must show the name, never the key):\n%s", list)
	}

	host := "dev.ep.localhost"
	withKey := func(method, path, body string, hdr map[string]string) (int, string, map[string][]string) {
		req := map[string]string{"x-api-key": key}
		for k, v := range hdr {
			req[k] = v
		}
		code, b, h := s.gwHeaders(method, host, path, body, req)
		return code, b, h
	}
	if code, body, _ := s.gw("GET", host, "/ping", ""); code != 403 || body != `{"message":"Forbidden"}` {
		t.Fatalf("no key: %d %s", code, body)
	}
	if code, body, h := withKey("GET", "/ping", "", map[string]string{"Origin": "https://app.example.com"}); code != 200 || body != "pong" || h["Access-Control-Allow-Origin"][0] != "https://app.example.com" {
		t.Fatalf("with the key: %d %q %v", code, body, h)
	}
	if code, _, _ := withKey("POST", "/ping", strings.Repeat("x", 2<<20), nil); code != 413 {
		t.Fatalf("2 MB body over max_body 1MB: %d", code)
	}
	codes := map[int]int{}
	for range 6 {
		code, _, _ := withKey("GET", "/ping", "", nil)
		codes[code]++
	}
	if codes[429] == 0 {
		t.Fatalf("6 quick requests on a 1/s burst-2 plan: %v", codes)
	}
	// The access log is written off the request path (its writer drains
	// every 20 ms), so the last entries may take a moment to appear.
	eventually(t, 5*time.Second, "the access log's entries", func() error {
		var logs []map[string]any
		out := s.mustRun(app, "logs", "ep", "dev", "--kind", "access").stdout
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err == nil {
				logs = append(logs, e)
			}
		}
		named := 0
		for _, e := range logs {
			if e["api_key"] == "mobile" {
				named++
			}
			if strings.Contains(strings.ToLower(line(e)), key) {
				t.Fatalf("the access log holds the key: %v", e)
			}
		}
		if len(logs) < 9 || named < 8 || logs[0]["client_ip"] != "127.0.0.1" {
			return fmt.Errorf("access log (%d entries, %d naming the key):\n%s", len(logs), named, out)
		}
		return nil
	})

	// The balancer stage pins a client with its cookie.
	code, _, h := s.gw("GET", "lb.ep.localhost", "/ping", "")
	cookie := ""
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "slipway_sticky=") {
			cookie = strings.SplitN(c, ";", 2)[0]
		}
	}
	if code != 200 || cookie == "" {
		t.Fatalf("balancer: %d, no sticky cookie in %v", code, h.Values("Set-Cookie"))
	}
	// Switched to the gateway at once, without a restart: no more sticky
	// cookie, the same instances.
	before := ids(status(t, s, "ep").Stages[1].Instances)
	s.mustRun(app, "endpoint", "ep", "lb", "gateway")
	eventually(t, 10*time.Second, "lb behind the gateway", func() error {
		code, _, h := s.gw("GET", "lb.ep.localhost", "/ping", "")
		if code != 200 || len(h.Values("Set-Cookie")) != 0 {
			return fmt.Errorf("%d, cookies %v", code, h.Values("Set-Cookie"))
		}
		return nil
	})
	if after := ids(status(t, s, "ep").Stages[1].Instances); after != before {
		t.Fatalf("switching the endpoint restarted instances: %s → %s", before, after)
	}
	if line := errorLine(t, s.run(app, "endpoint", "ep", "lb", "alb")); !strings.Contains(line, "gateway or balancer") {
		t.Fatalf("bad kind: %q", line)
	}
	s.mustRun(app, "endpoint", "ep", "lb", "balancer")
	// A path route of dev sends /shop/... to lb, without the prefix.
	if code, body, _ := s.gwHeaders("GET", host, "/shop/ping", "", map[string]string{"x-api-key": key}); code != 200 || body != "pong" {
		t.Fatalf("path route: %d %q", code, body)
	}
	// A custom domain routes to its stage.
	s.mustRun(app, "domain", "add", "ep", "lb", "shop.example.com")
	if code, body, _ := s.gw("GET", "shop.example.com", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("custom domain: %d %q", code, body)
	}
	if line := errorLine(t, s.run(app, "domain", "add", "ep", "dev", "shop.example.com")); !strings.Contains(line, "shop.example.com") {
		t.Fatalf("a domain taken by another stage: %q", line)
	}
	s.mustRun(app, "domain", "remove", "shop.example.com")
	if code, _, _ := s.gw("GET", "shop.example.com", "/ping", ""); code != 404 {
		t.Fatalf("removed domain: %d", code)
	}
}

func line(e map[string]any) string {
	b, _ := json.Marshal(e)
	return string(b)
}
