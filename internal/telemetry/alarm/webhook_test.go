package alarm

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// recordSleep records the waits instead of sleeping.
type recordSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func TestDeliverRetriesWithBackoff(t *testing.T) {
	var calls atomic.Int32
	var got Notification
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s with %q", r.Method, r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	rs := &recordSleep{}
	var events []core.AlarmEvent
	var mu sync.Mutex
	nt := &Notifier{Sleep: rs.sleep, Log: slog.New(slog.DiscardHandler), Record: func(ev core.AlarmEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}}
	th := 500.0
	nt.Send(context.Background(), []string{srv.URL + "/hook?token=s3cret"}, Notification{AlarmID: "a1", AlarmName: "slow", Stack: "app", Stage: "prod",
		Metric: "p99_latency_ms", Threshold: &th, State: core.AlarmAlarm, PreviousState: core.AlarmOK, Reason: "too slow", Time: t0})
	nt.Wait()
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !reflect.DeepEqual(rs.waits, want) {
		t.Fatalf("waits %v, want %v", rs.waits, want)
	}
	if got.AlarmID != "a1" || got.State != core.AlarmAlarm || got.PreviousState != core.AlarmOK || *got.Threshold != 500 || got.Reason != "too slow" {
		t.Fatalf("body: %+v", got)
	}
	if len(events) != 1 {
		t.Fatalf("history: %+v", events)
	}
	ev := events[0]
	if !ev.Delivered || ev.Attempts != 3 || ev.HTTP != 204 || ev.Type != core.AlarmDelivery || ev.Alarm != "a1" || ev.To != core.AlarmAlarm {
		t.Fatalf("delivery event: %+v", ev)
	}
	if strings.Contains(ev.URL, "s3cret") || !strings.HasSuffix(ev.URL, "/hook?redacted") {
		t.Fatalf("history URL not redacted: %s", ev.URL)
	}
}

func TestDeliverGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	rs := &recordSleep{}
	nt := &Notifier{Sleep: rs.sleep}
	d := nt.Deliver(context.Background(), srv.URL, []byte(`{}`))
	if d.Delivered() || d.Attempts != 5 || calls.Load() != 5 || d.Status != 500 || !strings.Contains(d.Err, "500") {
		t.Fatalf("delivery %+v after %d calls", d, calls.Load())
	}
	if want := DefaultBackoff; !reflect.DeepEqual(rs.waits, want) {
		t.Fatalf("waits %v, want %v", rs.waits, want)
	}
}

func TestDeliverErrorHidesURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	nt := &Notifier{Sleep: (&recordSleep{}).sleep, Backoff: []time.Duration{time.Millisecond}}
	d := nt.Deliver(context.Background(), "http://user:pa55@"+addr+"/x?token=s3cret", []byte(`{}`))
	if d.Delivered() || d.Attempts != 2 || d.Err == "" {
		t.Fatalf("delivery: %+v", d)
	}
	if strings.Contains(d.Err, "pa55") || strings.Contains(d.Err, "s3cret") {
		t.Fatalf("error shows the URL's secrets: %s", d.Err)
	}
}

func TestDeliverStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	nt := &Notifier{}
	d := nt.Deliver(ctx, srv.URL, []byte(`{}`))
	if d.Delivered() || d.Attempts != 1 || !strings.Contains(d.Err, "gave up") {
		t.Fatalf("delivery: %+v", d)
	}
}

// TestSendKeepsOrder: an alarm's OK is not delivered before its ALARM,
// even when the ALARM needs a retry.
func TestSendKeepsOrder(t *testing.T) {
	var mu sync.Mutex
	var states []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n Notification
		json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		states = append(states, string(n.State))
	}))
	defer srv.Close()
	nt := &Notifier{Sleep: (&recordSleep{}).sleep, Log: slog.New(slog.DiscardHandler)}
	for _, st := range []core.AlarmState{core.AlarmAlarm, core.AlarmOK, core.AlarmAlarm} {
		nt.Send(context.Background(), []string{srv.URL}, Notification{AlarmID: "a1", Stack: "app", State: st})
	}
	nt.Wait()
	if strings.Join(states, " ") != "ALARM OK ALARM" {
		t.Fatalf("delivered in order %v", states)
	}
	if len(nt.tails) != 0 || len(nt.queued) != 0 {
		t.Fatalf("left: %v %v", nt.tails, nt.queued)
	}
}

// TestSendBoundsQueue: a receiver that does not answer holds at most
// MaxQueued deliveries of one alarm; more are dropped and recorded.
func TestSendBoundsQueue(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	var mu sync.Mutex
	var events []core.AlarmEvent
	nt := &Notifier{Log: slog.New(slog.DiscardHandler), Record: func(ev core.AlarmEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}}
	for i := 0; i < MaxQueued+3; i++ {
		nt.Send(context.Background(), []string{srv.URL + "?k=s3cret"}, Notification{AlarmID: "a1", Stack: "app", State: core.AlarmAlarm})
	}
	mu.Lock()
	dropped := len(events)
	mu.Unlock()
	if dropped != 3 || events[0].Delivered || !strings.Contains(events[0].Error, "dropped") || strings.Contains(events[0].URL, "s3cret") {
		t.Fatalf("dropped %d: %+v", dropped, events)
	}
	close(release)
	nt.Wait()
	if len(events) != MaxQueued+3 || len(nt.queued) != 0 {
		t.Fatalf("%d events, queued %v", len(events), nt.queued)
	}
}
