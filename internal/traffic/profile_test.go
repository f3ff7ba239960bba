package traffic

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
)

func TestFromFlags(t *testing.T) {
	cases := []struct {
		name string
		in   Flags
		// want: requests, duration, request bytes, response bytes, peak, new conns/s, active conns/min
		want    [7]float64
		notes   []string // substrings of the notes, in order
		wantErr string
	}{
		{name: "defaults", in: Flags{},
			// rates stay 0: the estimator derives them
			want:  [7]float64{1e6, 100, 1024, 10240, 0, 0, 0},
			notes: []string{"assuming 1M requests/month", "assuming a mean request duration of 100 ms", "1 KB per request and 10 KB per response"}},
		{name: "busy", in: Flags{Requests: "2.592B", Duration: "250ms"},
			want: [7]float64{2.592e9, 250, 1024, 10240, 0, 0, 0}},
		{name: "all given", in: Flags{Requests: "10M", Duration: "1.2s", RequestBytes: "2KB", ResponseBytes: "1MB", PeakConcurrency: "40", NewConnections: "5", ActiveConnections: "300"},
			want: [7]float64{1e7, 1200, 2048, 1 << 20, 40, 5, 300}},
		{name: "plain numbers", in: Flags{Requests: "1000000", Duration: "50", RequestBytes: "512"},
			want: [7]float64{1e6, 50, 512, 10240, 0, 0, 0}},
		{name: "bad requests", in: Flags{Requests: "ten"}, wantErr: `invalid requests "ten": use a count like 10M`},
		{name: "negative requests", in: Flags{Requests: "-5"}, wantErr: `invalid requests "-5"`},
		{name: "bad duration", in: Flags{Duration: "fast"}, wantErr: `invalid duration "fast": use a duration like 120ms or 1.2s`},
		{name: "zero duration", in: Flags{Duration: "0ms"}, wantErr: `more than 0 and at most 15m`},
		{name: "too long", in: Flags{Duration: "16m"}, wantErr: `more than 0 and at most 15m`},
		{name: "bad bytes", in: Flags{ResponseBytes: "big"}, wantErr: `invalid response bytes "big": use a size like 512, 4KB or 2MB`},
		{name: "bad peak", in: Flags{PeakConcurrency: "x"}, wantErr: `invalid peak concurrency "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, notes, err := FromFlags(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := [7]float64{p.RequestsPerMonth, p.DurationMS, p.RequestBytes, p.ResponseBytes, p.PeakConcurrency, p.NewConnectionsPerSecond, p.ActiveConnectionsPerMinute}
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > 1e-9*math.Max(1, c.want[i]) {
					t.Errorf("figure %d = %v, want %v (profile %+v)", i, got[i], c.want[i], p)
				}
			}
			joined := strings.Join(notes, "\n")
			for _, n := range c.notes {
				i := strings.Index(joined, n)
				if i < 0 {
					t.Errorf("notes lack %q:\n%s", n, joined)
					continue
				}
				joined = joined[i:]
			}
		})
	}
}

func TestFromUsage(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(min int, v float64) Point { return Point{T: t0.Add(time.Duration(min) * time.Minute), V: v} }
	m := Metered{Window: time.Hour, Step: time.Minute,
		// 300 requests in the hour: 100 at a 20 ms median, 200 at 50 ms.
		Requests:      []Point{at(0, 100), at(1, 200), at(2, 0)},
		P50MS:         []Point{at(0, 20), at(1, 50), at(5, 999)}, // 999: a period without requests, no weight
		Concurrency:   []Point{at(0, 0.5), at(1, 1.5)},
		ResponseBytes: 2048, Sampled: 300,
	}
	u := Summarize(m)
	// mean duration (100×20 + 200×50) / 300 = 40; mean concurrency (0.5+1.5)/60 periods.
	if u.Requests != 300 || u.DurationMS != 40 || u.PeakConcurrency != 1.5 || math.Abs(u.MeanConcurrency-2.0/60) > 1e-12 {
		t.Errorf("Summarize = %+v", u)
	}
	p, notes, err := FromUsage(m)
	if err != nil {
		t.Fatal(err)
	}
	// 300 an hour × 720 hours.
	if p.RequestsPerMonth != 300*720 || p.DurationMS != 40 || p.ResponseBytes != 2048 || p.RequestBytes != 1024 || p.PeakConcurrency != 1.5 {
		t.Errorf("profile = %+v", p)
	}
	if !strings.Contains(notes[0], "from 1h of metered usage: 300 requests, extrapolated × 720 to 30 days") {
		t.Errorf("first note = %q", notes[0])
	}
	if _, _, err := FromUsage(Metered{Window: 24 * time.Hour, Step: time.Minute}); err == nil || !strings.Contains(err.Error(), "no requests metered in the last 24h") {
		t.Errorf("no traffic: err = %v", err)
	}
}

func TestWindowAndVolumes(t *testing.T) {
	for in, ok := range map[string]bool{"24h": true, "1m": true, "2160h": true, "30s": false, "2161h": false, "day": false, "-1h": false} {
		if _, err := Window(in); (err == nil) != ok {
			t.Errorf("Window(%q): err = %v", in, err)
		}
	}
	v := Volumes()
	if len(v) != 41 || v[0] != 1e5 || v[40] != 1e9 || v[10] != 1e6 {
		t.Errorf("Volumes = %v", v)
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[float64]string{950: "950", 1500: "1.5k", 1e7: "10M", 2.5e9: "2.5B", 432e6: "432M"} {
		if got := FormatCount(in); got != want {
			t.Errorf("FormatCount(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{512: "512 B", 1024: "1 KB", 10240: "10 KB", 1.5 * (1 << 20): "1.5 MB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%v) = %q, want %q", in, got, want)
		}
	}
	// A trickle's concurrency does not round to 0.
	for in, want := range map[float64]string{0: "0", 0.00023: "0.00023", 0.0000012: "0.0000012", 0.0123: "0.012", 7.25: "7.25", 42.26: "42.3"} {
		if got := formatFloat(in); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", in, got, want)
		}
	}
}

// A stage's status gives the cost model what its spec would: the
// settings, the endpoint and the routes (the balancer's listener rules).
func TestStage(t *testing.T) {
	spec := core.StageSpec{Name: "web", Scale: core.ScaleSpec{Min: 2, Max: 4, CPU: 0.5, MemoryMB: 1024},
		Endpoint: core.EndpointSpec{Kind: core.EndpointBalancer}, Routes: []core.Route{{Path: "/api", Stack: "api", Stage: "prod"}}}
	scale := spec.EffectiveScale()
	ss := core.StageStatus{Name: "web", Endpoint: spec.EffectiveEndpoint().Kind, Scale: &scale, Routes: spec.Routes}
	got, want := Stage(core.ArchContainer, ss), cost.StageFromSpec(core.ArchContainer, spec)
	if got != want || got.Rules != 2 {
		t.Errorf("Stage(status) = %+v, want %+v with 2 rules", got, want)
	}
}
