package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/engine"
)

// logLine makes the fixture write msg to stdout or stderr.
func logLine(t *testing.T, baseURL, stream, msg string) {
	t.Helper()
	resp, err := http.Get(baseURL + "/log?stream=" + stream + "&msg=" + url.QueryEscape(msg))
	if err != nil {
		t.Fatalf("log %q: %v", msg, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// waitLogs polls the logs until they hold want: the json-file driver
// writes asynchronously, so a line may trail the request that caused it.
func waitLogs(t *testing.T, d *Docker, id string, opts engine.LogOptions, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := readAllLogs(t, d, id, opts)
		if strings.Contains(logs, want) {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs never showed %q:\n%s", want, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	id, base := startServer(t, d)

	// Docker copies stdout and stderr in separate goroutines, so lines on
	// different streams keep their order only if each is in the log before
	// the next is written.
	var all string
	for _, l := range []struct{ stream, msg string }{{"stdout", "one"}, {"stderr", "two"}, {"stdout", "three"}} {
		logLine(t, base, l.stream, l.msg)
		all = waitLogs(t, d, id, engine.LogOptions{}, l.msg)
	}

	// Framing removed, stdout and stderr merged in order.
	if got, want := lines(all), []string{"listening on :8080", "one", "two", "three"}; !slices.Equal(got, want) {
		t.Errorf("logs = %q, want %q", got, want)
	}
	if got := lines(readAllLogs(t, d, id, engine.LogOptions{Tail: 2})); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("tail 2 = %q", got)
	}

	stamped := lines(readAllLogs(t, d, id, engine.LogOptions{Timestamps: true}))
	if len(stamped) != 4 {
		t.Fatalf("timestamped logs = %q", stamped)
	}
	var lastStamp time.Time
	for _, l := range stamped {
		ts, _, ok := strings.Cut(l, " ")
		stamp, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			t.Fatalf("line %q has no RFC 3339 timestamp: %v", l, err)
		}
		lastStamp = stamp
	}

	// Since: only what came after.
	logLine(t, base, "stdout", "four")
	waitLogs(t, d, id, engine.LogOptions{}, "four")
	if got := lines(readAllLogs(t, d, id, engine.LogOptions{Since: lastStamp.Add(time.Nanosecond)})); !slices.Equal(got, []string{"four"}) {
		t.Errorf("since %v = %q, want [four]", lastStamp, got)
	}
}

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	id, base := startServer(t, d)

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	rc, err := d.Logs(ctx, id, engine.LogOptions{Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := make(chan string, 16)
	readDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			got <- sc.Text()
		}
		readDone <- sc.Err()
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case line := <-got:
			if line != want {
				t.Fatalf("followed line %q, want %q", line, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no followed line %q", want)
		}
	}
	expect("listening on :8080")
	logLine(t, base, "stdout", "live one")
	expect("live one")
	logLine(t, base, "stderr", "live two")
	expect("live two")

	// Cancelling ctx ends a follow on a quiet container.
	cancel()
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when ctx was cancelled")
	}
}

func TestLogsFollowEndsWhenContainerStops(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	id, _ := startServer(t, d)
	rc, err := d.Logs(testContext(t), id, engine.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := d.StopContainer(testContext(t), id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(rc); done <- b }()
	select {
	case b := <-done:
		if !strings.Contains(string(b), "shutting down on terminated") {
			t.Errorf("followed logs = %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the container stopped")
	}
}

// TestLogsTTY: a container with a TTY has no stream framing; Logs must
// pass its output through rather than mangle it. Slipway never creates
// one, but it may adopt or inspect one, so the test creates it directly.
func TestLogsTTY(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	img := serverImage(t, d)
	name := uniqueName(t)
	res, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     &container.Config{Image: img, Tty: true, Cmd: []string{"-exit", "0", "-print", "hello through a tty"}},
		HostConfig: &container.HostConfig{LogConfig: container.LogConfig{Type: "json-file"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, d, res.ID)
	if err := d.StartContainer(ctx, res.ID); err != nil {
		t.Fatal(err)
	}
	logs := waitLogs(t, d, res.ID, engine.LogOptions{}, "hello through a tty")
	if got := lines(logs); !slices.Equal(got, []string{"hello through a tty"}) {
		t.Errorf("tty logs = %q (raw %q)", got, logs)
	}
}

// frame builds one chunk of Docker's multiplexed stream.
func frame(stream byte, payload string) []byte {
	hdr := make([]byte, 8)
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

func TestDemux(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, "out 1\n"))
	in.Write(frame(2, "err 1\n"))
	in.Write(frame(1, "out 2 "))
	in.Write(frame(1, "continued\n"))
	rc := demux(context.Background(), io.NopCloser(&in))
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "out 1\nerr 1\nout 2 continued\n" {
		t.Errorf("demuxed %q", b)
	}
	if err := rc.Close(); err != nil {
		t.Error(err)
	}
}

func TestDemuxClose(t *testing.T) {
	// Closing the reader while the source blocks must not hang.
	pr, pw := io.Pipe()
	defer pw.Close()
	rc := demux(context.Background(), pr)
	done := make(chan struct{})
	go func() { io.ReadAll(rc); close(done) }()
	rc.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("read did not end after Close")
	}
}

func TestLogLines(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	id, base := startServer(t, d)
	logLine(t, base, "stdout", "one")
	waitLogs(t, d, id, engine.LogOptions{}, "one")
	logLine(t, base, "stderr", "two <b>")
	waitLogs(t, d, id, engine.LogOptions{}, "two")

	var got []engine.LogLine
	err := d.LogLines(testContext(t), id, engine.LogOptions{Timestamps: true}, func(l engine.LogLine) error {
		got = append(got, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Stream != "stdout" || got[1].Text != "one" || got[2].Stream != "stderr" || got[2].Text != "two <b>" {
		t.Fatalf("lines = %+v", got)
	}
	for _, l := range got {
		if l.Time.IsZero() || time.Since(l.Time) > time.Minute {
			t.Fatalf("line %+v has no recent time", l)
		}
	}
	// Docker's since is inclusive to the nanosecond: the log store's
	// collector resumes from its last stored line's time and drops that
	// line when Docker sends it again.
	var again []string
	d.LogLines(testContext(t), id, engine.LogOptions{Timestamps: true, Since: got[1].Time}, func(l engine.LogLine) error {
		again = append(again, l.Text)
		return nil
	})
	if !slices.Equal(again, []string{"one", "two <b>"}) {
		t.Fatalf("since the time of %q: %q", got[1].Text, again)
	}

	// Following: new lines arrive; the context's end ends it.
	ctx, cancel := context.WithCancel(testContext(t))
	seen := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- d.LogLines(ctx, id, engine.LogOptions{Follow: true, Tail: 1}, func(l engine.LogLine) error {
			seen <- l.Stream + ":" + l.Text
			return nil
		})
	}()
	logLine(t, base, "stderr", "three")
	for s := ""; s != "stderr:three"; {
		select {
		case s = <-seen:
		case <-time.After(10 * time.Second):
			t.Fatal("follow did not show stderr:three")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}
