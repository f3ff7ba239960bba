package docker

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/slipwayhq/slipway/internal/engine"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	img := serverImage(t, d)
	name := uniqueName(t)

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	evs, errs := d.Events(ctx, map[string]string{testLabel: name})

	// Another container, not carrying the label, must not show up.
	other := createTestContainer(t, d, engine.ContainerSpec{Image: img})
	id := createTestContainer(t, d, engine.ContainerSpec{Name: name, Image: img, Labels: map[string]string{testLabel: name}})
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.StopContainer(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	var seen []string
	before := time.Now().Add(-time.Minute)
	for !contains(seen, "start") || !contains(seen, "die") {
		select {
		case ev := <-evs:
			if ev.ContainerID == other {
				t.Fatalf("event for a container without the label: %+v", ev)
			}
			if ev.ContainerID != id || ev.Labels[testLabel] != name || ev.Time.Before(before) {
				t.Fatalf("unexpected event %+v", ev)
			}
			seen = append(seen, ev.Action)
		case err := <-errs:
			t.Fatalf("events failed: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatalf("saw only %q, want start and die", seen)
		}
	}
	t.Logf("events: %q", seen)

	// Ending ctx closes both channels, without an error.
	cancel()
	deadline := time.After(5 * time.Second)
	for evs != nil || errs != nil {
		select {
		case _, ok := <-evs:
			if !ok {
				evs = nil
			}
		case err, ok := <-errs:
			if ok {
				t.Errorf("error after cancel: %v", err)
			}
			if !ok {
				errs = nil
			}
		case <-deadline:
			t.Fatal("channels not closed after ctx ended")
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestFromEventMessage(t *testing.T) {
	ev := fromEventMessage(events.Message{
		Type:     events.ContainerEventType,
		Action:   events.ActionDie,
		Actor:    events.Actor{ID: "abc", Attributes: map[string]string{"slipway.stack": "shop", "exitCode": "137"}},
		Time:     1700000000,
		TimeNano: 1700000000123456789,
	})
	if ev.Action != "die" || ev.ContainerID != "abc" || ev.Labels["slipway.stack"] != "shop" ||
		!ev.Time.Equal(time.Unix(0, 1700000000123456789)) {
		t.Errorf("got %+v", ev)
	}
}
