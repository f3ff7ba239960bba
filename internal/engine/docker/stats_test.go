package docker

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

func TestStats(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	id, base := startServer(t, d) // 64 MiB limit

	sample := func() engine.Stats {
		t.Helper()
		start := time.Now()
		s, err := d.Stats(ctx, id)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		// One-shot: Docker 20.10 still answers on its stats collector's
		// next tick (up to 1 s), but not after two ticks (1-2 s) as it
		// does when asked for a previous sample too.
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("Stats took %s; it must not wait for a second sample", took)
		}
		return s
	}

	s1 := sample()
	if s1.Time.IsZero() || time.Since(s1.Time) > time.Minute || s1.CPUNanos == 0 {
		t.Fatalf("first sample = %+v", s1)
	}
	if s1.MemoryLimit != 64<<20 {
		t.Errorf("memory limit = %d, want %d", s1.MemoryLimit, 64<<20)
	}
	if s1.MemoryBytes == 0 || s1.MemoryBytes > s1.MemoryLimit {
		t.Errorf("memory use = %d of %d", s1.MemoryBytes, s1.MemoryLimit)
	}

	// Busy: /burn spins until the server has used 500 ms more CPU time.
	const burn = 500 * time.Millisecond
	waitHTTP(t, base+"/burn?ms=500")
	s2 := sample()
	busy := time.Duration(s2.CPUNanos - s1.CPUNanos)
	if busy < burn*9/10 || busy > 3*burn {
		t.Errorf("CPU time grew %s across a %s burn", busy, burn)
	}
	if !s2.Time.After(s1.Time) {
		t.Errorf("sample times do not advance: %s then %s", s1.Time, s2.Time)
	}

	// Idle: barely grows.
	time.Sleep(time.Second)
	s3 := sample()
	if idle := time.Duration(s3.CPUNanos - s2.CPUNanos); idle > 100*time.Millisecond {
		t.Errorf("CPU time grew %s in a second of idling", idle)
	}
	t.Logf("busy %s, idle %s, memory %d of %d", busy, time.Duration(s3.CPUNanos-s2.CPUNanos), s3.MemoryBytes, s3.MemoryLimit)
}

func TestStatsNotRunning(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	id := createTestContainer(t, d, engine.ContainerSpec{Image: serverImage(t, d)})

	_, err := d.Stats(ctx, id)
	assertCode(t, err, core.CodeConflict)
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = d.Stats(ctx, id)
	assertCode(t, err, core.CodeConflict)
	_, err = d.Stats(ctx, uniqueName(t))
	assertCode(t, err, core.CodeNotFound)
}

// TestStatsRequest checks, against a canned daemon, the query Stats sends
// (one sample, no previous one) and how a cgroup v2 record is read.
func TestStatsRequest(t *testing.T) {
	var query url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/containers/c1/stats") {
			http.NotFound(w, r)
			return
		}
		query = r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"read":"2026-01-02T03:04:05.123456789Z","preread":"0001-01-01T00:00:00Z",
			"cpu_stats":{"cpu_usage":{"total_usage":123456789}},
			"precpu_stats":{"cpu_usage":{"total_usage":0}},
			"memory_stats":{"usage":10485760,"limit":67108864,"stats":{"inactive_file":1048576,"file":2097152}}}`)
	}))
	defer srv.Close()
	cli, err := client.New(client.WithHost("tcp://"+srv.Listener.Addr().String()), client.WithAPIVersion(minAPIVersion))
	if err != nil {
		t.Fatal(err)
	}
	d := &Docker{cli: cli, log: slog.New(slog.DiscardHandler), host: srv.URL}
	defer d.Close()

	got, err := d.Stats(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if query.Get("stream") != "false" || query.Get("one-shot") != "true" {
		t.Errorf("query = %v, want stream=false&one-shot=true", query)
	}
	want := engine.Stats{
		Time:        time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		CPUNanos:    123456789,
		MemoryBytes: 10<<20 - 1<<20,
		MemoryLimit: 64 << 20,
	}
	if !got.Time.Equal(want.Time) || got.CPUNanos != want.CPUNanos || got.MemoryBytes != want.MemoryBytes || got.MemoryLimit != want.MemoryLimit {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestWorkingSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 30, "inactive_file": 10, "cache": 50}}, 70},
		{"cgroup v2", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 30, "file": 50}}, 70},
		{"no breakdown", container.MemoryStats{Usage: 100}, 100},
		{"inactive above usage", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 300}}, 100},
	} {
		if got := workingSet(tc.in); got != tc.want {
			t.Errorf("%s: workingSet = %d, want %d", tc.name, got, tc.want)
		}
	}
}
