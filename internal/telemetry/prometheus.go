package telemetry

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prometheus metric names and labels. They are stable: dashboards and
// alert rules outside Slipway use them.
var (
	descRequests  = prometheus.NewDesc("slipway_requests_total", "Requests answered by the gateway, by status class (2xx..5xx, other).", []string{"stack", "stage", "code_class"}, nil)
	descDuration  = prometheus.NewDesc("slipway_request_duration_seconds", "Request latency from the gateway accepting a request to the end of its response.", []string{"stack", "stage"}, nil)
	descThrottles = prometheus.NewDesc("slipway_throttles_total", "Requests the gateway answered 429 itself (throttling, quotas, a full serverless queue).", []string{"stack", "stage"}, nil)
	descCold      = prometheus.NewDesc("slipway_cold_starts_total", "Requests that waited for a new serverless instance to start.", []string{"stack", "stage"}, nil)
	descGBSeconds = prometheus.NewDesc("slipway_gb_seconds_total", "Serverless billed duration times memory, in GB-seconds.", []string{"stack", "stage"}, nil)
	descBuilds    = prometheus.NewDesc("slipway_builds_total", "Finished builds by result (succeeded, failed).", []string{"stack", "result"}, nil)
	descReleases  = prometheus.NewDesc("slipway_releases_total", "Finished releases by result (succeeded, failed).", []string{"stack", "stage", "result"}, nil)
	descInstances = prometheus.NewDesc("slipway_instances", "Running instances of a stage.", []string{"stack", "stage"}, nil)
	descCPU       = prometheus.NewDesc("slipway_instance_cpu_percent", "An instance's CPU use in percent of its reserved vCPU, over the last 10 s.", []string{"stack", "stage", "instance"}, nil)
	descMemory    = prometheus.NewDesc("slipway_instance_memory_bytes", "An instance's memory use.", []string{"stack", "stage", "instance"}, nil)
)

// promEvery is the spacing of the exposed histogram's buckets: every
// fourth of the store's (one per doubling, 0.1 ms to 52 s).
const promEvery = histPerOctave

var classNames = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// collector exposes the store's cumulative totals since the server
// started (Prometheus handles the reset a restart makes).
type collector struct{ s *Store }

var _ prometheus.Collector = collector{}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descDuration, descThrottles, descCold, descGBSeconds, descBuilds, descReleases, descInstances, descCPU, descMemory} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	type stageCopy struct {
		sc scope
		t  stageTotals
	}
	s.reqMu.Lock()
	stages := make([]stageCopy, 0, len(s.totals))
	for sc, t := range s.totals {
		stages = append(stages, stageCopy{sc, *t})
	}
	s.reqMu.Unlock()
	sort.Slice(stages, func(i, j int) bool { return less(stages[i].sc, stages[j].sc) })
	for _, st := range stages {
		lv := []string{st.sc.stack, st.sc.stage}
		for i, n := range st.t.class {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), st.sc.stack, st.sc.stage, classNames[i])
		}
		if st.t.other > 0 {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(st.t.other), st.sc.stack, st.sc.stage, "other")
		}
		buckets := map[float64]uint64{}
		var cum uint64
		for i, n := range st.t.buckets[:histBounds] {
			cum += n
			if i%promEvery == 0 {
				buckets[bounds[i]/1000] = cum
			}
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, st.t.count, st.t.sumSec, buckets, lv...)
		ch <- prometheus.MustNewConstMetric(descThrottles, prometheus.CounterValue, float64(st.t.throttles), lv...)
		ch <- prometheus.MustNewConstMetric(descCold, prometheus.CounterValue, float64(st.t.cold), lv...)
	}
	type sample struct {
		k Key
		v float64
	}
	var adds, gauges []sample
	s.winMu.Lock()
	for k, v := range s.addTotals {
		adds = append(adds, sample{k, v})
	}
	for k, g := range s.gaugesNow {
		gauges = append(gauges, sample{k, g.v})
	}
	s.winMu.Unlock()
	for _, a := range adds {
		switch a.k.Metric {
		case GBSeconds:
			ch <- prometheus.MustNewConstMetric(descGBSeconds, prometheus.CounterValue, a.v, a.k.Stack, a.k.Stage)
		case BuildsSucceeded, BuildsFailed:
			ch <- prometheus.MustNewConstMetric(descBuilds, prometheus.CounterValue, a.v, a.k.Stack, result(a.k.Metric))
		case ReleasesSucceeded, ReleasesFailed:
			ch <- prometheus.MustNewConstMetric(descReleases, prometheus.CounterValue, a.v, a.k.Stack, a.k.Stage, result(a.k.Metric))
		}
	}
	for _, g := range gauges {
		switch {
		case g.k.Metric == Instances && g.k.Instance == "":
			ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, g.v, g.k.Stack, g.k.Stage)
		case g.k.Metric == CPUPercent && g.k.Instance != "":
			ch <- prometheus.MustNewConstMetric(descCPU, prometheus.GaugeValue, g.v, g.k.Stack, g.k.Stage, g.k.Instance)
		case g.k.Metric == MemoryMB && g.k.Instance != "":
			ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, g.v*(1<<20), g.k.Stack, g.k.Stage, g.k.Instance)
		}
	}
}

func result(metric string) string {
	if strings.HasSuffix(metric, "_failed") {
		return "failed"
	}
	return "succeeded"
}

func less(a, b scope) bool {
	if a.stack != b.stack {
		return a.stack < b.stack
	}
	if a.stage != b.stage {
		return a.stage < b.stage
	}
	return a.instance < b.instance
}

// Handler serves the store's metrics, the Go runtime's and the process's
// in Prometheus exposition format. It answers 401 unless the request
// carries "Authorization: Bearer <token>" with a token authorized
// accepts (the admin token or the read-only scrape token).
func (s *Store) Handler(authorized func(token string) bool) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !authorized(strings.TrimSpace(tok)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
			http.Error(w, "missing or wrong token: send \"Authorization: Bearer <token>\" with the admin token or the scrape token (<data-dir>/scrape-token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TokenChecker returns a constant-time check of a token against the
// SHA-256 hashes of the tokens it accepts.
func TokenChecker(tokens ...string) func(string) bool {
	hashes := make([][32]byte, len(tokens))
	for i, t := range tokens {
		hashes[i] = sha256.Sum256([]byte(t))
	}
	return func(tok string) bool {
		h := sha256.Sum256([]byte(tok))
		ok := 0
		for _, want := range hashes {
			ok |= subtle.ConstantTimeCompare(h[:], want[:])
		}
		return ok == 1
	}
}
