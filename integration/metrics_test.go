package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/client"
)

// TestMetricsPrometheusAndRestart: requests through the gateway show in
// GET /metrics (admin or scrape token; the scrape token opens nothing
// else), which Debian's promtool checks clean and a real Prometheus
// scrapes (target up, slipway_requests_total of the stack queryable);
// the stored points answer GET .../metrics and survive a restart.
func TestMetricsPrometheusAndRestart(t *testing.T) {
	promtool := needTool(t, "promtool")
	prometheus := needTool(t, "prometheus")
	s := startServer(t)
	// tight's gateway lets one request a 2 s through: the rest are the
	// gateway's own 429s, counted as throttles.
	app := fixtureApp(t, "metered", "stages:\n  - name: dev\n    scale: {min: 1, max: 1}\n"+
		"  - name: tight\n    scale: {min: 1, max: 1}\n    endpoint:\n      gateway:\n        throttle: {rate: 0.5, burst: 1}\n")
	s.mustRun(app, "deploy", "-q")
	waitServing(t, s, "metered", 1, 60*time.Second)
	const sent = 30
	for range sent {
		if code, body, _ := s.gw("GET", "dev.metered.localhost", "/ping", ""); code != 200 {
			t.Fatalf("GET /ping: %d %s", code, body)
		}
	}
	for range 3 {
		s.gw("GET", "dev.metered.localhost", "/nope", "") // 404s from the app
	}
	throttled := 0
	for range 6 {
		switch code, body, _ := s.gw("GET", "tight.metered.localhost", "/ping", ""); code {
		case 429:
			throttled++
		case 200:
		default:
			t.Fatalf("GET tight /ping: %d %s", code, body)
		}
	}
	if throttled < 4 {
		t.Errorf("%d of 6 requests throttled at 0.5/s with a burst of 1", throttled)
	}

	tokenPath := filepath.Join(s.dataDir, "scrape-token")
	raw, err := os.ReadFile(tokenPath)
	if err != nil {
		t.Fatalf("the scrape token file: %v", err)
	}
	scrape := strings.TrimSpace(string(raw))
	if fi, _ := os.Stat(tokenPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %o, want 0600", tokenPath, fi.Mode().Perm())
	}
	for token, want := range map[string]int{"": 401, "slws_wrong": 401, s.token: 200, scrape: 200} {
		if code, _ := s.scrapeMetrics(token); code != want {
			t.Errorf("GET /metrics with token %q…: %d, want %d", token[:min(len(token), 5)], code, want)
		}
	}
	if code := s.apiGet(scrape, "/v1/stacks"); code != 401 {
		t.Errorf("the scrape token opened GET /v1/stacks: %d", code)
	}

	var exposition string
	eventually(t, 20*time.Second, "the requests in /metrics", func() error {
		_, exposition = s.scrapeMetrics(scrape)
		want := fmt.Sprintf(`slipway_requests_total{code_class="2xx",stack="metered",stage="dev"} %d`, sent)
		if !strings.Contains(exposition, want) || !strings.Contains(exposition, `slipway_requests_total{code_class="4xx",stack="metered",stage="dev"} 3`) {
			return fmt.Errorf("no %s in:\n%s", want, grepLines(exposition, "slipway_"))
		}
		if !strings.Contains(exposition, `slipway_instances{stack="metered",stage="dev"} 1`) ||
			!strings.Contains(exposition, `slipway_instance_memory_bytes{instance=`) ||
			!strings.Contains(exposition, `slipway_builds_total{result="succeeded",stack="metered"} 1`) ||
			!strings.Contains(exposition, `slipway_releases_total{result="succeeded",stack="metered",stage="dev"} 1`) {
			return fmt.Errorf("gauges or outcomes missing:\n%s", grepLines(exposition, "slipway_"))
		}
		if !strings.Contains(exposition, fmt.Sprintf(`slipway_throttles_total{stack="metered",stage="tight"} %d`, throttled)) ||
			!strings.Contains(exposition, `slipway_throttles_total{stack="metered",stage="dev"} 0`) {
			return fmt.Errorf("want %d throttles of tight, none of dev:\n%s", throttled, grepLines(exposition, "throttles"))
		}
		return nil
	})
	for _, name := range []string{"slipway_request_duration_seconds_bucket", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(exposition, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if strings.Contains(s.logs.String(), scrape) || strings.Contains(s.logs.String(), s.token) {
		t.Error("the server log shows a token")
	}

	// promtool's lint: clean.
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(exposition)
	if out, err := check.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// A real Prometheus scrapes it with the scrape token.
	prom := startPrometheus(t, prometheus, s.api, tokenPath)
	eventually(t, 60*time.Second, "Prometheus's target up", func() error {
		var targets struct {
			Data struct {
				ActiveTargets []struct {
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := getJSON(prom+"/api/v1/targets", &targets); err != nil {
			return err
		}
		if len(targets.Data.ActiveTargets) != 1 || targets.Data.ActiveTargets[0].Health != "up" {
			return fmt.Errorf("targets: %+v", targets.Data.ActiveTargets)
		}
		return nil
	})
	eventually(t, 30*time.Second, "slipway_requests_total in Prometheus", func() error {
		var res struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		q := url.Values{"query": {`slipway_requests_total{stack="metered",stage="dev",code_class="2xx"}`}}
		if err := getJSON(prom+"/api/v1/query?"+q.Encode(), &res); err != nil {
			return err
		}
		if len(res.Data.Result) != 1 || res.Data.Result[0].Metric["stage"] != "dev" || fmt.Sprint(res.Data.Result[0].Value[1]) != fmt.Sprint(sent) {
			return fmt.Errorf("query answered %+v", res.Data.Result)
		}
		return nil
	})

	// The stored points: the API answers them, and again after a restart.
	c := s.client(t)
	ctx := context.Background()
	total := func() (float64, error) {
		ser, err := c.Metrics(ctx, "metered", "dev", client.MetricsQuery{Metric: "requests", Since: time.Hour})
		if err != nil {
			return 0, err
		}
		var n float64
		for _, p := range ser.Points {
			n += p.V
		}
		if ser.Unit != "count" || ser.Kind != "counter" {
			return n, fmt.Errorf("series %+v", ser)
		}
		return n, nil
	}
	eventually(t, 30*time.Second, "the requests stored", func() error {
		if n, err := total(); err != nil || n != sent+3 {
			return fmt.Errorf("%v requests stored (%v), want %d", n, err, sent+3)
		}
		return nil
	})
	if _, err := c.Metrics(ctx, "metered", "dev", client.MetricsQuery{Metric: "p99"}); err == nil || !strings.Contains(err.Error(), `unknown metric "p99": use one of requests,`) {
		t.Errorf("an unknown metric: %v", err)
	}
	if _, err := c.Metrics(ctx, "metered", "prod", client.MetricsQuery{Metric: "requests"}); err == nil || !strings.Contains(err.Error(), `no stage "prod"`) {
		t.Errorf("an unknown stage: %v", err)
	}
	s.stop()
	s.start()
	c = s.client(t)
	if n, err := total(); err != nil || n != sent+3 {
		t.Errorf("after a restart: %v requests stored (%v), want %d", n, err, sent+3)
	}
	// New requests count on top.
	s.gw("GET", "dev.metered.localhost", "/ping", "")
	eventually(t, 30*time.Second, "a request after the restart stored", func() error {
		if n, err := total(); err != nil || n != sent+4 {
			return fmt.Errorf("%v requests stored (%v), want %d", n, err, sent+4)
		}
		return nil
	})
}

// needTool finds a program the test needs; outside -short its absence
// fails the test (CI installs Debian's prometheus package).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install prometheus (.ci/run does)", name)
	}
	return p
}

func (s *server) client(t *testing.T) *client.Client {
	t.Helper()
	return client.New(client.Config{Server: s.api, Token: s.token})
}

func (s *server) scrapeMetrics(token string) (int, string) {
	req, _ := http.NewRequest("GET", s.api+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *server) apiGet(token, path string) int {
	req, _ := http.NewRequest("GET", s.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startPrometheus runs Prometheus on a free loopback port with a temp
// storage dir, scraping the server's /metrics every second with the
// token in tokenFile; it returns its base URL.
func startPrometheus(t *testing.T, bin, api, tokenFile string) string {
	t.Helper()
	dir := t.TempDir()
	u, _ := url.Parse(api)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: slipway
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: %s
    static_configs:
      - targets: [%q]
`, tokenFile, u.Host)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = bufWriter{logs}, bufWriter{logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.Tail(30))
		}
	})
	base := "http://" + addr
	eventually(t, 30*time.Second, "Prometheus ready", func() error {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("ready: %d", resp.StatusCode)
		}
		return nil
	})
	return base
}

func getJSON(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// grepLines keeps the lines containing s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// bufWriter makes a syncBuffer an io.Writer.
type bufWriter struct{ b *syncBuffer }

func (w bufWriter) Write(p []byte) (int, error) {
	w.b.WriteString(string(p))
	return len(p), nil
}
