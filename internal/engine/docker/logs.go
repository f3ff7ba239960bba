package docker

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/engine"
)

// Logs returns an instance's stdout and stderr merged as plain text.
//
// Without a TTY Docker frames each chunk with an 8-byte header naming the
// stream; those frames are removed here. With a TTY the output is already
// one raw stream (with \r\n line ends) and is passed through, so the
// container is inspected first to know which it is.
//
// The reader ends at EOF (or, when following, when the container stops),
// when ctx ends, or when it is closed.
func (d *Docker) Logs(ctx context.Context, id string, opts engine.LogOptions) (io.ReadCloser, error) {
	info, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, d.fail(err, "read logs of container %s", id)
	}
	tty := info.Container.Config != nil && info.Container.Config.Tty

	body, err := d.cli.ContainerLogs(ctx, id, logsOptions(opts))
	if err != nil {
		return nil, d.fail(err, "read logs of container %s", id)
	}
	if tty {
		return body, nil
	}
	return demux(ctx, body), nil
}

func logsOptions(opts engine.LogOptions) client.ContainerLogsOptions {
	out := client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
	}
	if opts.Tail > 0 {
		out.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		out.Since = opts.Since.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// demux strips Docker's stream framing from body, merging stdout and
// stderr in the order the daemon sent them.
func demux(ctx context.Context, body io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		// StdCopy writes both streams from this one goroutine, so sharing
		// the pipe writer needs no lock.
		_, err := stdcopy.StdCopy(pw, pw, body)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		pw.CloseWithError(err) // nil means EOF for the reader
		body.Close()
	}()
	return &demuxReader{PipeReader: pr, body: body}
}

// demuxReader closes both ends on Close: the pipe so a blocked write
// returns, and the response body so a blocked read (a followed, quiet
// container) returns.
type demuxReader struct {
	*io.PipeReader
	body io.Closer
	once sync.Once
}

func (r *demuxReader) Close() error {
	r.once.Do(func() {
		r.PipeReader.Close()
		r.body.Close()
	})
	return nil
}
