package docker

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
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

// LogLines calls fn with each line of an instance's output, stdout and
// stderr told apart by Docker's stream framing (a TTY's one stream is
// stdout). With opts.Timestamps, Docker's RFC 3339 prefix becomes the
// line's Time.
func (d *Docker) LogLines(ctx context.Context, id string, opts engine.LogOptions, fn func(engine.LogLine) error) error {
	info, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return d.fail(err, "read logs of container %s", id)
	}
	tty := info.Container.Config != nil && info.Container.Config.Tty
	body, err := d.cli.ContainerLogs(ctx, id, logsOptions(opts))
	if err != nil {
		return d.fail(err, "read logs of container %s", id)
	}
	// A followed, quiet container blocks the read: closing the body ends it.
	stop := context.AfterFunc(ctx, func() { body.Close() })
	defer stop()
	defer body.Close()
	stdout := &lineWriter{stream: "stdout", timestamps: opts.Timestamps, fn: fn}
	stderr := &lineWriter{stream: "stderr", timestamps: opts.Timestamps, fn: fn}
	if tty {
		_, err = io.Copy(stdout, body)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, body)
	}
	if err == nil {
		err = stdout.end()
	}
	if err == nil {
		err = stderr.end()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// maxLine is where an unending line is cut into several.
const maxLine = 256 << 10

// lineWriter splits one stream into lines for LogLines.
type lineWriter struct {
	stream     string
	timestamps bool
	fn         func(engine.LogLine) error
	buf        []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				if err := w.emit(); err != nil {
					return 0, err
				}
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		if err := w.emit(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// end passes on a last line without a line end.
func (w *lineWriter) end() error {
	if len(w.buf) == 0 {
		return nil
	}
	return w.emit()
}

func (w *lineWriter) emit() error {
	line := engine.LogLine{Stream: w.stream, Text: strings.TrimSuffix(string(w.buf), "\r")}
	w.buf = w.buf[:0]
	if w.timestamps {
		if ts, rest, ok := strings.Cut(line.Text, " "); ok {
			if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				line.Time, line.Text = t, rest
			}
		} else if t, err := time.Parse(time.RFC3339Nano, line.Text); err == nil {
			line.Time, line.Text = t, "" // an empty line
		}
	}
	return w.fn(line)
}
