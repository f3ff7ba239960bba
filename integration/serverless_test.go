package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// serverlessManifest is the fixture as a serverless stack: dev with
// Lambda's semantics and a short idle time, and "tight", capped at two
// instances with a queue of one.
const serverlessManifest = `architecture: serverless
serverless:
  memory: 128
  timeout: 2s
  idle: 3s
stages:
  - name: dev
  - name: tight
    serverless:
      max_instances: 2
      queue: 1
      queue_timeout: 500ms
  - name: multi
    serverless:
      concurrency: 10
      max_instances: 1
      timeout: 60s
`

func liveInstances(t *testing.T, s *server, stack, stage string) int {
	t.Helper()
	for _, st := range status(t, s, stack).Stages {
		if st.Name == stage {
			return len(st.Instances)
		}
	}
	t.Fatalf("no stage %s", stage)
	return 0
}

// TestServerlessHTTP: an http-handler stage scales from zero and back,
// starts instances in parallel, throttles past max_instances, enforces
// its timeout, memory and payload limits, and meters what it served.
func TestServerlessHTTP(t *testing.T) {
	s := startServer(t, "--log-level", "debug") // for the access log
	app := fixtureApp(t, "fn", serverlessManifest)
	r := s.mustRun(app, "deploy")
	if !strings.Contains(r.stderr, "starting a trial instance") {
		t.Fatalf("deploy:\n%s", r.stderr)
	}
	host := "dev.fn.localhost"
	sent := 0
	get := func(path string) (int, string, http.Header) {
		sent++
		return s.gw("GET", host, path, "")
	}

	// The trial instance is warm: no cold start.
	code, body, h := get("/ping")
	if code != 200 || body != "pong" || h.Get("X-Slipway-Cold-Start") != "false" {
		t.Fatalf("first request: %d %q cold=%q", code, body, h.Get("X-Slipway-Cold-Start"))
	}

	// The instance gets the gateway's X-Forwarded-For (no trusted
	// proxies: the peer alone), never the client's.
	sent++
	if code, body, _ := s.gwHeaders("GET", host, "/header?name=X-Forwarded-For", "", map[string]string{"X-Forwarded-For": "6.6.6.6"}); code != 200 || body != "127.0.0.1" {
		t.Errorf("X-Forwarded-For at the instance: %d %q, want 127.0.0.1", code, body)
	}

	t.Run("scales to zero and serves again", func(t *testing.T) {
		eventually(t, 30*time.Second, "dev scaled to zero", func() error {
			if n := liveInstances(t, s, "fn", "dev"); n != 0 {
				return fmt.Errorf("%d instances", n)
			}
			return nil
		})
		code, body, h := get("/ping")
		if code != 200 || body != "pong" || h.Get("X-Slipway-Cold-Start") != "true" || h.Get("X-Slipway-Init-Ms") == "" {
			t.Fatalf("from zero: %d %q cold=%q init=%q", code, body, h.Get("X-Slipway-Cold-Start"), h.Get("X-Slipway-Init-Ms"))
		}
		if _, _, h := get("/ping"); h.Get("X-Slipway-Cold-Start") != "false" {
			t.Fatalf("the next request was a cold start too")
		}
		if !regexp.MustCompile(`component=access .*host=dev.fn.localhost .*status=200 .*cold_start=true init_ms=\d+`).MatchString(s.logs.String()) {
			t.Errorf("the access log does not record the cold start:\n%s", s.logs.Tail(20))
		}
	})

	t.Run("concurrent cold starts run in parallel", func(t *testing.T) {
		eventually(t, 30*time.Second, "dev scaled to zero", func() error {
			if n := liveInstances(t, s, "fn", "dev"); n != 0 {
				return fmt.Errorf("%d instances", n)
			}
			return nil
		})
		const n = 20
		var mu sync.Mutex
		var cold, ok int
		var initSum, slowest time.Duration
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				code, body, h := s.gw("GET", host, "/sleep?ms=300", "")
				took := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				sent++
				if code == 200 {
					ok++
				} else {
					t.Logf("%d %s", code, body)
				}
				if h.Get("X-Slipway-Cold-Start") == "true" {
					cold++
					ms, _ := strconv.Atoi(h.Get("X-Slipway-Init-Ms"))
					initSum += time.Duration(ms) * time.Millisecond
				}
				slowest = max(slowest, took)
			}()
		}
		wg.Wait()
		if ok != n || cold != n {
			t.Fatalf("%d of %d succeeded, %d cold starts (concurrency 1: each needs its own instance)", ok, n, cold)
		}
		// One at a time, the last would wait for every other's start.
		if slowest >= initSum/2 {
			t.Errorf("slowest request took %s, the cold starts' init times sum to %s: they did not overlap", slowest, initSum)
		}
	})

	t.Run("max_instances and the queue throttle with 429", func(t *testing.T) {
		var mu sync.Mutex
		codes := map[int]int{}
		retryAfter := ""
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body, h := s.gw("GET", "tight.fn.localhost", "/sleep?ms=1500", "")
				mu.Lock()
				defer mu.Unlock()
				codes[code]++
				t.Logf("%d %s", code, body)
				if code == 429 {
					retryAfter = h.Get("Retry-After")
				}
			}()
		}
		wg.Wait()
		if codes[200] < 2 || codes[429] < 3 || codes[200]+codes[429] != 6 || retryAfter == "" {
			t.Fatalf("answers %v, Retry-After %q; want 2 or 3 served and the rest throttled", codes, retryAfter)
		}
		var u core.Usage
		json.Unmarshal([]byte(s.mustRun(app, "usage", "fn", "tight", "-o", "json").stdout), &u)
		if u.Throttles != int64(codes[429]) || u.Requests != int64(codes[200]) {
			t.Errorf("tight's usage %+v; answers %v", u, codes)
		}
	})

	t.Run("concurrency above 1 shares an instance", func(t *testing.T) {
		var mu sync.Mutex
		codes, cold := map[int]int{}, 0
		var wg sync.WaitGroup
		for range 15 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _, h := s.gw("GET", "multi.fn.localhost", "/sleep?ms=300", "")
				mu.Lock()
				defer mu.Unlock()
				codes[code]++
				if h.Get("X-Slipway-Cold-Start") == "true" {
					cold++
				}
			}()
		}
		wg.Wait()
		if codes[200] != 15 || cold > 1 {
			t.Fatalf("answers %v with %d cold starts; want 15 served by one instance (10 at a time, the rest queued)", codes, cold)
		}
		if n := liveInstances(t, s, "fn", "multi"); n != 1 {
			t.Errorf("multi has %d instances, want 1", n)
		}
	})

	t.Run("limits", func(t *testing.T) {
		code, body, _ := get("/sleep?ms=5000")
		if code != 504 || !strings.Contains(body, "function_timeout") {
			t.Fatalf("past the timeout: %d %s", code, body)
		}
		if code, body, _ := get("/ping"); code != 200 || body != "pong" {
			t.Fatalf("after a timeout: %d %q", code, body)
		}
		// On multi, whose timeout leaves a loaded machine time to fill
		// 128 MB.
		code, body, _ = s.gw("GET", "multi.fn.localhost", "/oom", "")
		if code != 502 || !strings.Contains(body, "out_of_memory") || !strings.Contains(body, "128 MB") {
			t.Fatalf("memory hog: %d %s", code, body)
		}
		code, body, _ = s.gw("POST", host, "/ping", strings.Repeat("x", 7<<20))
		sent++
		if code != 413 || !strings.Contains(body, "6 MB") {
			t.Fatalf("7 MB request: %d %s", code, body)
		}
		code, body, _ = get("/big?bytes=7000000")
		if code != 502 || !strings.Contains(body, "response_too_large") {
			t.Fatalf("7 MB response: %.200s %d", body, code)
		}
		if code, body, _ := get("/ping"); code != 200 || body != "pong" {
			t.Fatalf("after the limits: %d %q", code, body)
		}
	})

	t.Run("metering", func(t *testing.T) {
		var u core.Usage
		out := s.mustRun(app, "usage", "fn", "dev", "--since", "1h", "-o", "json").stdout
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatal(err)
		}
		if u.Requests != int64(sent) || u.ColdStarts < 21 || u.Timeouts != 1 || u.Errors < 2 || u.BilledMS < 20*300 {
			t.Fatalf("usage %+v after %d requests", u, sent)
		}
		if want := float64(u.BilledMS) * 128 / 1024 / 1000; u.GBSeconds < want*0.999 || u.GBSeconds > want*1.001 {
			t.Errorf("GB-seconds %g, want %g (billed ms × 128 MB)", u.GBSeconds, want)
		}
		table := s.mustRun(app, "usage", "fn", "dev").stdout
		if !strings.Contains(table, "cold starts") || !strings.Contains(table, "GB-seconds") {
			t.Errorf("usage table:\n%s", table)
		}
	})
}
