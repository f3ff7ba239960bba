package core

import (
	"fmt"
	"math"
	"time"
)

// Handler kinds of a serverless stage.
const (
	// HandlerHTTP: any web container; requests are proxied to its port.
	HandlerHTTP = "http"
	// HandlerLambda: the container implements the AWS Lambda Runtime API;
	// requests become API Gateway events.
	HandlerLambda = "lambda"
)

// Payload format versions of the API Gateway events a lambda handler gets.
const (
	PayloadV2 = "2.0" // HTTP API payload v2.0, the default
	PayloadV1 = "1.0" // REST-style payload v1.0
)

// ServerlessSpec is how a serverless stage runs: Lambda's settings, plus
// the activator's queue. Every field has a default (Lambda's), applied by
// DefaultServerless.
type ServerlessSpec struct {
	MemoryMB int      `json:"memory"`  // MB, 128-10240; sets the memory limit and the CPU share
	Timeout  Duration `json:"timeout"` // per request, 1s-900s
	// Concurrency is requests in flight per instance: 1 is Lambda's
	// semantics, more is Cloud Run's.
	Concurrency  int      `json:"concurrency"`
	MaxInstances int      `json:"max_instances"` // reserved concurrency
	MinInstances int      `json:"min_instances"` // provisioned concurrency: kept warm
	Idle         Duration `json:"idle"`          // an idle instance is removed after this
	// Freeze pauses an instance with no request in flight (cgroup
	// freezer) and thaws it for the next, as Lambda does.
	Freeze bool `json:"freeze"`
	// Queue bounds the requests that wait for capacity when every
	// instance is busy at MaxInstances, and QueueTimeout how long each
	// waits; past either, 429 with Retry-After (Lambda's throttle).
	Queue        int      `json:"queue"`
	QueueTimeout Duration `json:"queue_timeout"`
	Handler      string   `json:"handler"`         // http or lambda
	Payload      string   `json:"payload_version"` // for lambda handlers: 2.0 or 1.0
	// Schedules invoke the stage on EventBridge rate() or cron()
	// expressions.
	Schedules []Schedule `json:"schedules,omitempty"`
}

// Schedule invokes a serverless stage on a timer. A lambda handler gets
// an EventBridge scheduled event; an http handler gets Method Path with
// Body.
type Schedule struct {
	Expression string `json:"expression"` // rate(5 minutes) or cron(0 12 * * ? *)
	Path       string `json:"path,omitempty"`
	Method     string `json:"method,omitempty"`
	Body       string `json:"body,omitempty"`
}

// Serverless defaults and limits (Lambda's, where Lambda has one).
const (
	DefaultServerlessMemoryMB = 512
	DefaultServerlessTimeout  = 30 * time.Second
	DefaultConcurrency        = 1
	DefaultMaxInstances       = 100
	DefaultIdle               = 10 * time.Minute
	DefaultQueue              = 100
	DefaultQueueTimeout       = 10 * time.Second

	MinServerlessMemoryMB = 128
	MaxServerlessMemoryMB = 10240
	MinServerlessTimeout  = time.Second
	MaxServerlessTimeout  = 900 * time.Second
	MaxConcurrency        = 1000
	MaxServerlessInstance = 1000
	MinIdle               = time.Second
	MaxIdle               = 24 * time.Hour
	MaxQueue              = 10000
	MaxQueueTimeout       = 15 * time.Minute

	// MBPerVCPU is Lambda's memory per vCPU: CPU share follows memory.
	MBPerVCPU = 1769
	// MinServerlessCPU is the least CPU an instance gets.
	MinServerlessCPU = 0.1
	// MaxPayloadBytes is Lambda's synchronous payload limit, for request
	// and response bodies alike.
	MaxPayloadBytes = 6 << 20
)

// DefaultServerless is the serverless spec of a stage that sets nothing.
func DefaultServerless() ServerlessSpec {
	return ServerlessSpec{
		MemoryMB: DefaultServerlessMemoryMB, Timeout: Duration(DefaultServerlessTimeout),
		Concurrency: DefaultConcurrency, MaxInstances: DefaultMaxInstances,
		Idle: Duration(DefaultIdle), Freeze: true,
		Queue: DefaultQueue, QueueTimeout: Duration(DefaultQueueTimeout),
		Handler: HandlerHTTP, Payload: PayloadV2,
	}
}

// CPU is the vCPU share an instance gets for its memory, as on Lambda:
// 1 vCPU per 1,769 MB, at least 0.1.
func (s ServerlessSpec) CPU() float64 {
	return math.Max(MinServerlessCPU, float64(s.MemoryMB)/MBPerVCPU)
}

// Problems lists the rules s breaks, each saying what is allowed; nil
// when s is valid. Field names are slipway.yml's keys. Schedules'
// expressions are checked by the schedule parser, not here.
func (s ServerlessSpec) Problems() []ScaleProblem {
	var out []ScaleProblem
	bad := func(field, related, format string, args ...any) {
		out = append(out, ScaleProblem{Field: field, Related: related, Detail: fmt.Sprintf(format, args...)})
	}
	if s.MemoryMB < MinServerlessMemoryMB || s.MemoryMB > MaxServerlessMemoryMB {
		bad("memory", "", "%d is out of range; allowed: %d-%d (MB)", s.MemoryMB, MinServerlessMemoryMB, MaxServerlessMemoryMB)
	}
	if t := s.Timeout.D(); t < MinServerlessTimeout || t > MaxServerlessTimeout || t%time.Second != 0 {
		bad("timeout", "", "%s is out of range; allowed: whole seconds from 1s to 900s", t)
	}
	if s.Concurrency < 1 || s.Concurrency > MaxConcurrency {
		bad("concurrency", "", "%d is out of range; allowed: 1-%d requests per instance", s.Concurrency, MaxConcurrency)
	}
	maxOK := s.MaxInstances >= 1 && s.MaxInstances <= MaxServerlessInstance
	if !maxOK {
		bad("max_instances", "", "%d is out of range; allowed: 1-%d", s.MaxInstances, MaxServerlessInstance)
	}
	if s.MinInstances < 0 || s.MinInstances > MaxServerlessInstance {
		bad("min_instances", "", "%d is out of range; allowed: 0-%d", s.MinInstances, MaxServerlessInstance)
	} else if maxOK && s.MinInstances > s.MaxInstances {
		bad("min_instances", "max_instances", "%d is more than max_instances %d; allowed: 0-%d", s.MinInstances, s.MaxInstances, s.MaxInstances)
	}
	if i := s.Idle.D(); i < MinIdle || i > MaxIdle {
		bad("idle", "", "%s is out of range; allowed: 1s-24h", i)
	}
	if s.Queue < 0 || s.Queue > MaxQueue {
		bad("queue", "", "%d is out of range; allowed: 0-%d waiting requests (0: throttle at once)", s.Queue, MaxQueue)
	}
	if q := s.QueueTimeout.D(); q < 0 || q > MaxQueueTimeout {
		bad("queue_timeout", "", "%s is out of range; allowed: 0s-15m", q)
	}
	switch s.Handler {
	case HandlerHTTP:
	case HandlerLambda:
		if s.Concurrency != 1 {
			bad("concurrency", "handler", "%d is not valid with handler lambda: the Runtime API hands an instance one event at a time; allowed: 1", s.Concurrency)
		}
	default:
		bad("handler", "", "%q is not a handler kind; allowed: http, lambda", s.Handler)
	}
	if s.Payload != PayloadV2 && s.Payload != PayloadV1 {
		bad("payload_version", "", "%q is not a payload format version; allowed: \"2.0\", \"1.0\"", s.Payload)
	}
	return out
}

// EffectiveServerless is the stage's serverless spec, or the defaults
// when it has none (MemoryMB 0).
func (st StageSpec) EffectiveServerless() ServerlessSpec {
	if st.Serverless.MemoryMB == 0 {
		return DefaultServerless()
	}
	return st.Serverless
}

// Invocation is one request served by a serverless instance, as metered.
type Invocation struct {
	Stack, Stage string
	Time         time.Time     // when it arrived
	Duration     time.Duration // from taking a slot to the response's end
	MemoryMB     int
	ColdStart    bool
	Init         time.Duration // the cold start's init time (start to ready)
	Status       int           // the HTTP status answered
	Throttled    bool          // answered 429 without running
	TimedOut     bool
}

// BilledMS is Lambda's billed duration: whole milliseconds, rounded up,
// at least 1.
func (i Invocation) BilledMS() int64 {
	ms := int64(math.Ceil(float64(i.Duration) / float64(time.Millisecond)))
	return max(ms, 1)
}

// GBSeconds is billed ms × memory / 1024 / 1000.
func (i Invocation) GBSeconds() float64 {
	return float64(i.BilledMS()) * float64(i.MemoryMB) / 1024 / 1000
}

// Usage sums a stage's invocations over a window.
type Usage struct {
	Stack      string    `json:"stack"`
	Stage      string    `json:"stage"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
	Requests   int64     `json:"requests"` // invocations that ran (throttles excluded)
	BilledMS   int64     `json:"billed_ms"`
	GBSeconds  float64   `json:"gb_seconds"`
	ColdStarts int64     `json:"cold_starts"`
	InitMS     int64     `json:"init_ms"` // summed over cold starts
	Throttles  int64     `json:"throttles"`
	Errors     int64     `json:"errors"` // 5xx answers
	Timeouts   int64     `json:"timeouts"`
	P50MS      float64   `json:"p50_ms"` // estimated from the duration histogram
	P99MS      float64   `json:"p99_ms"`
	MaxMS      float64   `json:"max_ms"`
}

// DurationBoundsMS are the upper bounds (ms) of the duration histogram's
// buckets; a last, unbounded bucket follows.
var DurationBoundsMS = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 900000}

// UsageBucket is a stage's metered invocations in one minute: what the
// store keeps, summed into a Usage for any window.
type UsageBucket struct {
	Stack      string    `json:"stack"`
	Stage      string    `json:"stage"`
	Minute     time.Time `json:"minute"` // UTC, truncated to the minute
	Requests   int64     `json:"requests"`
	BilledMS   int64     `json:"billed_ms"`
	GBSeconds  float64   `json:"gb_seconds"`
	ColdStarts int64     `json:"cold_starts"`
	InitMS     int64     `json:"init_ms"`
	Throttles  int64     `json:"throttles"`
	Errors     int64     `json:"errors"`
	Timeouts   int64     `json:"timeouts"`
	MaxMS      float64   `json:"max_ms"`
	// Durations counts invocations per DurationBoundsMS bucket (one more
	// entry than the bounds, for the unbounded last bucket).
	Durations []int64 `json:"durations"`
}

// Add meters one invocation into b (whose Minute the caller chose).
func (b *UsageBucket) Add(inv Invocation) {
	if inv.Throttled {
		b.Throttles++
		return
	}
	b.Requests++
	b.BilledMS += inv.BilledMS()
	b.GBSeconds += inv.GBSeconds()
	if inv.ColdStart {
		b.ColdStarts++
		b.InitMS += inv.Init.Milliseconds()
	}
	if inv.Status >= 500 {
		b.Errors++
	}
	if inv.TimedOut {
		b.Timeouts++
	}
	ms := float64(inv.Duration) / float64(time.Millisecond)
	b.MaxMS = max(b.MaxMS, ms)
	if len(b.Durations) != len(DurationBoundsMS)+1 {
		b.Durations = make([]int64, len(DurationBoundsMS)+1)
	}
	i := 0
	for i < len(DurationBoundsMS) && ms > DurationBoundsMS[i] {
		i++
	}
	b.Durations[i]++
}

// Merge adds o's counts to b.
func (b *UsageBucket) Merge(o UsageBucket) {
	b.Requests += o.Requests
	b.BilledMS += o.BilledMS
	b.GBSeconds += o.GBSeconds
	b.ColdStarts += o.ColdStarts
	b.InitMS += o.InitMS
	b.Throttles += o.Throttles
	b.Errors += o.Errors
	b.Timeouts += o.Timeouts
	b.MaxMS = max(b.MaxMS, o.MaxMS)
	if len(o.Durations) > 0 && len(b.Durations) != len(o.Durations) {
		b.Durations = make([]int64, len(o.Durations))
	}
	for i, n := range o.Durations {
		b.Durations[i] += n
	}
}

// SumUsage totals buckets into a stage's usage over [since, until).
func SumUsage(stack, stage string, since, until time.Time, buckets []UsageBucket) Usage {
	var t UsageBucket
	for _, b := range buckets {
		t.Merge(b)
	}
	u := Usage{Stack: stack, Stage: stage, Since: since, Until: until,
		Requests: t.Requests, BilledMS: t.BilledMS, GBSeconds: t.GBSeconds, ColdStarts: t.ColdStarts,
		InitMS: t.InitMS, Throttles: t.Throttles, Errors: t.Errors, Timeouts: t.Timeouts, MaxMS: t.MaxMS}
	u.P50MS = quantile(t.Durations, 0.50, t.MaxMS)
	u.P99MS = quantile(t.Durations, 0.99, t.MaxMS)
	return u
}

// quantile estimates the q-quantile of a duration histogram, linearly
// within the bucket it falls in, and never above the largest seen.
func quantile(counts []int64, q, maxMS float64) float64 {
	var total int64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range counts {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		lo := 0.0
		if i > 0 {
			lo = DurationBoundsMS[i-1]
		}
		hi := maxMS
		if i < len(DurationBoundsMS) {
			hi = min(DurationBoundsMS[i], maxMS)
		}
		if hi < lo {
			return hi
		}
		return lo + (hi-lo)*(rank-float64(seen))/float64(n)
	}
	return maxMS
}
