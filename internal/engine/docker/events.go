package docker

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// Events streams container lifecycle events for containers carrying all
// labels. The subscription is in place when Events returns, so an action
// taken afterwards is seen. Both channels are closed when ctx ends (which
// is not reported as an error) or the stream fails (reported once on the
// error channel, CodeUnavailable if the daemon went away).
//
// Event.Labels holds the actor's attributes as Docker reports them: the
// container's labels plus Docker's own "name" and "image" (and "exitCode"
// on die).
func (d *Docker) Events(ctx context.Context, labels map[string]string) (<-chan engine.Event, <-chan error) {
	out := make(chan engine.Event)
	errc := make(chan error, 1)

	filters := labelFilters(labels)
	filters.Add("type", string(events.ContainerEventType))
	// Our own cancel lets us end the client's stream goroutine when the
	// caller's ctx ends or we stop reading.
	ctx, cancel := context.WithCancel(ctx)
	res := d.cli.Events(ctx, client.EventsListOptions{Filters: filters})

	go func() {
		defer close(errc)
		defer close(out)
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-res.Err:
				if !ok || ctx.Err() != nil || err == nil {
					return
				}
				errc <- d.eventsFailure(err)
				return
			case msg := <-res.Messages:
				select {
				case out <- fromEventMessage(msg):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}

// eventsFailure maps a broken event stream: a connection refused at the
// start and a daemon that hangs up mid-stream both mean Docker went away.
func (d *Docker) eventsFailure(err error) error {
	if client.IsErrConnectionFailed(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return d.fail(err, "watch docker events")
	}
	var domain *core.Error
	if errors.As(err, &domain) {
		return err
	}
	if isStreamCut(err) {
		return core.Wrap(core.CodeUnavailable, err,
			"lost the event stream from the Docker daemon at %s: %v", d.host, err)
	}
	return d.fail(err, "watch docker events")
}

func fromEventMessage(m events.Message) engine.Event {
	t := time.Unix(m.Time, 0)
	if m.TimeNano != 0 {
		t = time.Unix(0, m.TimeNano)
	}
	return engine.Event{
		Action:      string(m.Action),
		ContainerID: m.Actor.ID,
		Labels:      maps.Clone(m.Actor.Attributes),
		Time:        t,
	}
}

// isStreamCut reports whether err means the daemon hung up on a stream
// that had started.
func isStreamCut(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr)
}
