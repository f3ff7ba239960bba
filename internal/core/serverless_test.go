package core

import (
	"math"
	"testing"
	"time"
)

func TestBilling(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		mem    int
		billed int64
		gbs    float64
	}{
		{1500 * time.Microsecond, 1024, 2, 0.002},
		{100 * time.Millisecond, 512, 100, 0.05},
		{0, 128, 1, 0.000125},
		{time.Second + time.Nanosecond, 10240, 1001, 10.01},
	} {
		inv := Invocation{Duration: tc.d, MemoryMB: tc.mem}
		if got := inv.BilledMS(); got != tc.billed {
			t.Errorf("%s: billed %d ms, want %d", tc.d, got, tc.billed)
		}
		if got := inv.GBSeconds(); math.Abs(got-tc.gbs) > 1e-12 {
			t.Errorf("%s at %d MB: %g GB-s, want %g", tc.d, tc.mem, got, tc.gbs)
		}
	}
}

func TestUsageSums(t *testing.T) {
	var a, b UsageBucket
	for i := 1; i <= 100; i++ { // 1..100 ms, cold every 10th
		inv := Invocation{Duration: time.Duration(i) * time.Millisecond, MemoryMB: 1024, Status: 200, ColdStart: i%10 == 0, Init: 250 * time.Millisecond}
		if i > 50 {
			inv.Status = 502
			b.Add(inv)
		} else {
			a.Add(inv)
		}
	}
	b.Add(Invocation{Throttled: true, Status: 429})
	u := SumUsage("s", "dev", time.Time{}, time.Time{}, []UsageBucket{a, b})
	if u.Requests != 100 || u.Throttles != 1 || u.ColdStarts != 10 || u.InitMS != 2500 || u.Errors != 50 || u.BilledMS != 5050 {
		t.Fatalf("usage %+v", u)
	}
	if math.Abs(u.GBSeconds-5.05) > 1e-9 || u.MaxMS != 100 {
		t.Errorf("GB-s %g, max %g", u.GBSeconds, u.MaxMS)
	}
	// The histogram's estimate lands in the right bucket: p50 of 1..100
	// is 50 (bucket 20-50], p99 is 99 (bucket 50-100].
	if u.P50MS <= 20 || u.P50MS > 50 || u.P99MS <= 50 || u.P99MS > 100 {
		t.Errorf("p50 %g, p99 %g", u.P50MS, u.P99MS)
	}
	if z := SumUsage("s", "dev", time.Time{}, time.Time{}, nil); z.P50MS != 0 || z.Requests != 0 {
		t.Errorf("empty usage %+v", z)
	}
}

func TestServerlessProblems(t *testing.T) {
	if p := DefaultServerless().Problems(); p != nil {
		t.Fatalf("defaults have problems: %v", p)
	}
	s := DefaultServerless()
	s.MemoryMB, s.Timeout, s.Handler, s.Concurrency, s.MinInstances, s.MaxInstances = 64, Duration(1500*time.Millisecond), HandlerLambda, 4, 3, 2
	got := map[string]bool{}
	for _, p := range s.Problems() {
		got[p.Field] = true
	}
	for _, f := range []string{"memory", "timeout", "concurrency", "min_instances"} {
		if !got[f] {
			t.Errorf("no problem reported for %s: %v", f, s.Problems())
		}
	}
	if c := (ServerlessSpec{MemoryMB: 1769}).CPU(); c != 1 {
		t.Errorf("1769 MB: %g vCPU", c)
	}
	if c := (ServerlessSpec{MemoryMB: 128}).CPU(); c != 0.1 {
		t.Errorf("128 MB: %g vCPU, want the 0.1 floor", c)
	}
}
