package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// serverlessScenarios measures issue 5's figures on the fixture app
// deployed a second time as a serverless stack (same image build):
// cold start (no instance → first byte), thaw (frozen → first byte) and
// warm requests against the container stage fx, sequentially.
func (b *bench) serverlessScenarios() error {
	dir := filepath.Join(b.dir, "fixture")
	manifest := "name: fxs\narchitecture: serverless\nserverless:\n  memory: 256\n  idle: 1s\n"
	os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte(manifest), 0o644)
	if _, err := b.cli(dir, "deploy", "-q"); err != nil {
		return err
	}
	host := "dev.fxs.localhost"
	first := func() (time.Duration, string, error) {
		req, _ := http.NewRequest("GET", "http://"+b.gw+"/ping", nil)
		req.Host = host
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		d := time.Since(t0) // headers, and with them the first byte, are in
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, "", fmt.Errorf("serverless /ping answered %d", resp.StatusCode)
		}
		return d, resp.Header.Get("X-Slipway-Cold-Start"), nil
	}

	// Cold starts: wait for zero instances (idle 1s), then one request.
	const trials = 30
	var cold []time.Duration
	for len(cold) < trials {
		if err := b.waitExactlyStage("fxs", 0, 30*time.Second); err != nil {
			return err
		}
		d, c, err := first()
		if err != nil {
			return err
		}
		if c == "true" {
			cold = append(cold, d)
		}
	}
	// Thaws: a request, a pause past the freeze delay, a request.
	var thaw []time.Duration
	for len(thaw) < trials {
		if _, _, err := first(); err != nil {
			return err
		}
		time.Sleep(400 * time.Millisecond)
		d, c, err := first()
		if err != nil {
			return err
		}
		if c == "false" {
			thaw = append(thaw, d)
		}
	}
	b.row(fmt.Sprintf("serverless cold start, no instance → first byte (n=%d)", trials), "p50 "+msD(pct(cold, 50)), "p90 "+msD(pct(cold, 90)), "p99 "+msD(pct(cold, 99)))
	b.row(fmt.Sprintf("serverless thaw, frozen → first byte (n=%d)", trials), "p50 "+msD(pct(thaw, 50)), "p90 "+msD(pct(thaw, 90)), "p99 "+msD(pct(thaw, 99)))

	// Warm: back-to-back requests (the instance never freezes between
	// them), serverless against the container stage of the same image.
	// Each block starts with an untimed request: the other stage's block
	// lasts longer than FreezeAfter, so its first would be a thaw.
	seq := func(h string, n int) ([]time.Duration, error) {
		var out []time.Duration
		for i := range n + 1 {
			req, _ := http.NewRequest("GET", "http://"+b.gw+"/ping", nil)
			req.Host = h
			t0 := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			if i > 0 {
				out = append(out, time.Since(t0))
			}
		}
		return out, nil
	}
	var sl, ct []time.Duration
	for range 3 { // interleaved rounds
		s, err := seq(host, 300)
		if err != nil {
			return err
		}
		c, err := seq("dev.fx.localhost", 300)
		if err != nil {
			return err
		}
		sl, ct = append(sl, s...), append(ct, c...)
	}
	b.row("warm request, sequential (n=900)", "serverless", "container", "serverless/container")
	b.row("  p50", msD(pct(sl, 50)), msD(pct(ct, 50)), fmt.Sprintf("%.2f", float64(pct(sl, 50))/float64(pct(ct, 50))))
	b.row("  p99", msD(pct(sl, 99)), msD(pct(ct, 99)), fmt.Sprintf("%.2f", float64(pct(sl, 99))/float64(pct(ct, 99))))
	return nil
}

// waitExactlyStage waits until the stack's first stage has n instances.
func (b *bench) waitExactlyStage(stack string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := b.cli(b.dir, "status", stack, "-o", "json")
		if err != nil {
			return err
		}
		var st struct {
			Stages []struct {
				Instances []json.RawMessage `json:"instances"`
			} `json:"stages"`
		}
		json.Unmarshal([]byte(out), &st)
		if len(st.Stages) > 0 && len(st.Stages[0].Instances) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach %d instances in %s: %s", stack, n, timeout, strings.TrimSpace(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(min(i, len(s))-1, 0)]
}

func msD(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
