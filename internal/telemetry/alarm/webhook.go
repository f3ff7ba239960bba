package alarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Notification is the JSON body POSTed to an alarm's webhooks.
type Notification struct {
	AlarmID       string          `json:"alarm_id"`
	AlarmName     string          `json:"alarm_name"`
	Kind          core.AlarmKind  `json:"kind"`
	Stack         string          `json:"stack"`
	Stage         string          `json:"stage,omitempty"`
	Metric        string          `json:"metric,omitempty"`
	Comparison    string          `json:"comparison,omitempty"`
	Threshold     *float64        `json:"threshold,omitempty"`
	Period        string          `json:"period,omitempty"`
	For           int             `json:"evaluation_periods,omitempty"`
	State         core.AlarmState `json:"state"`
	PreviousState core.AlarmState `json:"previous_state"`
	Reason        string          `json:"reason"`
	Time          time.Time       `json:"time"`
	Dashboard     string          `json:"dashboard_url"`
}

// DefaultBackoff is the wait before each retry: 5 attempts in all.
var DefaultBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// Delivery is the outcome of POSTing one notification to one URL.
type Delivery struct {
	Attempts int
	Status   int    // the last HTTP status, 0 if none answered
	Err      string // the last failure, "" when delivered
}

// Delivered reports whether a 2xx answered.
func (d Delivery) Delivered() bool { return d.Err == "" }

// Notifier POSTs notifications with retries, each delivery on its own
// goroutine so the evaluator never waits for a slow receiver. An alarm's
// notifications reach each URL in order: one waits for the previous
// one's delivery (or giving up), so an OK never overtakes its ALARM.
type Notifier struct {
	Client  *http.Client
	Backoff []time.Duration
	// Sleep waits d or until ctx ends (tests record the waits instead).
	Sleep  func(ctx context.Context, d time.Duration) error
	Record func(core.AlarmEvent) // stores a delivery's outcome in history
	Log    *slog.Logger
	wg     sync.WaitGroup
	mu     sync.Mutex
	tails  map[string]chan struct{} // per alarm and URL: the last delivery's end
	queued map[string]int           // per alarm and URL: deliveries not ended
}

// MaxQueued bounds the deliveries waiting for one alarm and URL (a dead
// receiver of a flapping alarm): more are dropped, and that is recorded.
const MaxQueued = 10

// Send starts delivering n to each URL and returns at once. The outcome
// of each is passed to Record as a history event of the alarm.
func (nt *Notifier) Send(ctx context.Context, urls []string, n Notification) {
	body, err := json.Marshal(n)
	if err != nil {
		nt.Log.Error("encode alarm notification", "alarm", n.AlarmID, "err", err)
		return
	}
	for _, u := range urls {
		key := n.Stack + "\x00" + n.AlarmID + "\x00" + u
		done := make(chan struct{})
		nt.mu.Lock()
		if nt.tails == nil {
			nt.tails, nt.queued = map[string]chan struct{}{}, map[string]int{}
		}
		if nt.queued[key] >= MaxQueued {
			nt.mu.Unlock()
			nt.Log.Warn("alarm notification dropped: too many waiting for the same webhook", "stack", n.Stack, "alarm", n.AlarmName, "url", Redact(u))
			if nt.Record != nil {
				nt.Record(core.AlarmEvent{Time: time.Now().UTC(), Stack: n.Stack, Alarm: n.AlarmID, Name: n.AlarmName, Type: core.AlarmDelivery,
					To: n.State, URL: Redact(u), Error: fmt.Sprintf("dropped: %d earlier notifications to this URL are still being retried", MaxQueued)})
			}
			continue
		}
		nt.queued[key]++
		prev := nt.tails[key]
		nt.tails[key] = done
		nt.mu.Unlock()
		nt.wg.Add(1)
		go func() {
			defer nt.wg.Done()
			defer func() {
				close(done)
				nt.mu.Lock()
				if nt.tails[key] == done {
					delete(nt.tails, key)
				}
				if nt.queued[key]--; nt.queued[key] == 0 {
					delete(nt.queued, key)
				}
				nt.mu.Unlock()
			}()
			if prev != nil {
				<-prev
			}
			d := nt.Deliver(ctx, u, body)
			ev := core.AlarmEvent{Time: time.Now().UTC(), Stack: n.Stack, Alarm: n.AlarmID, Name: n.AlarmName, Type: core.AlarmDelivery,
				To: n.State, URL: Redact(u), Attempts: d.Attempts, HTTP: d.Status, Error: d.Err, Delivered: d.Delivered()}
			log := nt.Log.With("stack", n.Stack, "alarm", n.AlarmName, "state", n.State, "url", ev.URL, "attempts", d.Attempts)
			if d.Delivered() {
				log.Info("alarm notification delivered", "status", d.Status)
			} else {
				log.Warn("alarm notification not delivered", "err", d.Err)
			}
			if nt.Record != nil {
				nt.Record(ev)
			}
		}()
	}
}

// Wait returns once every delivery started has ended.
func (nt *Notifier) Wait() { nt.wg.Wait() }

// Deliver POSTs body to rawURL until a 2xx answers, waiting Backoff[i]
// before retry i+1, or ctx ends. Errors never hold the URL (it may carry
// credentials).
func (nt *Notifier) Deliver(ctx context.Context, rawURL string, body []byte) Delivery {
	var d Delivery
	backoff := nt.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	sleep := nt.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for {
		d.Attempts++
		d.Status, d.Err = nt.post(ctx, rawURL, body)
		if d.Err == "" || d.Attempts > len(backoff) {
			return d
		}
		if err := sleep(ctx, backoff[d.Attempts-1]); err != nil {
			d.Err += " (gave up: the server is stopping)"
			return d
		}
	}
}

func (nt *Notifier) post(ctx context.Context, rawURL string, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, "bad webhook URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "slipway-alarms")
	client := nt.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return 0, err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Sprintf("answered %s", resp.Status)
	}
	return resp.StatusCode, ""
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
