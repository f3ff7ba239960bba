package docker

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// The fixture image has no shell: its binary's one-shot modes stand in
// (-print/-eprint/-exit to write and exit, -cat to copy stdin).

func TestExec(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	id, _ := startServer(t, d)

	t.Run("output and exit code", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := d.Exec(ctx, id, []string{"/server", "-print", "hello", "-eprint", "oops", "-exit", "3"}, nil, &stdout, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		if code != 3 || stdout.String() != "hello\n" || stderr.String() != "oops\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 3, %q, %q", code, stdout.String(), stderr.String(), "hello\n", "oops\n")
		}
	})

	t.Run("stdin", func(t *testing.T) {
		var stdout bytes.Buffer
		in := strings.Repeat("line of input\n", 10000) // more than one pipe buffer
		code, err := d.Exec(ctx, id, []string{"/server", "-cat"}, strings.NewReader(in), &stdout, nil)
		if err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
		if stdout.String() != in {
			t.Errorf("stdout is %d bytes, want the %d of stdin", stdout.Len(), len(in))
		}
	})

	t.Run("streams both ways", func(t *testing.T) {
		// The output of the first line must arrive while stdin is still
		// open, i.e. while the command is still running.
		pr, pw := io.Pipe()
		out := newWatchWriter("ping")
		done := make(chan error, 1)
		var code int
		go func() {
			var err error
			code, err = d.Exec(ctx, id, []string{"/server", "-cat", "-exit", "5"}, pr, out, nil)
			done <- err
		}()
		if _, err := io.WriteString(pw, "ping\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-out.seen:
		case err := <-done:
			t.Fatalf("exec ended before its output was seen: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatal("output not streamed while the command runs")
		}
		pw.Close() // EOF on stdin ends -cat
		select {
		case err := <-done:
			if err != nil || code != 5 {
				t.Fatalf("exit %d, %v; want 5", code, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("closing stdin did not end the command")
		}
	})

	t.Run("discarded output", func(t *testing.T) {
		code, err := d.Exec(ctx, id, []string{"/server", "-print", "x", "-exit", "0"}, nil, nil, nil)
		if err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
	})

	t.Run("command not found", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := d.Exec(ctx, id, []string{"/no-such-command", "arg"}, nil, &stdout, &stderr)
		if err != nil {
			t.Fatalf("a missing command is an exit code, not an error: %v", err)
		}
		if code != 126 && code != 127 {
			t.Errorf("exit code %d, want 126 or 127", code)
		}
		t.Logf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	})

	t.Run("no command", func(t *testing.T) {
		_, err := d.Exec(ctx, id, nil, nil, nil, nil)
		assertCode(t, err, core.CodeInvalid)
	})

	t.Run("cancelled", func(t *testing.T) {
		// stdin never ends, so the command would run forever: ending ctx
		// must still return promptly.
		pr, pw := io.Pipe()
		defer pw.Close()
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.Exec(cctx, id, []string{"/server", "-cat"}, pr, nil, nil)
		if err == nil || cctx.Err() == nil {
			t.Fatalf("err = %v after %s, want the context's", err, time.Since(start))
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %s to notice the cancellation", took)
		}
	})
}

func TestExecNotRunning(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	id := createTestContainer(t, d, engine.ContainerSpec{Image: serverImage(t, d)})
	cmd := []string{"/server", "-print", "x", "-exit", "0"}

	_, err := d.Exec(ctx, id, cmd, nil, nil, nil)
	assertCode(t, err, core.CodeConflict)
	if !strings.Contains(err.Error(), "not running") {
		t.Errorf("message should say the container is not running: %v", err)
	}
	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := d.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = d.Exec(ctx, id, cmd, nil, nil, nil)
	assertCode(t, err, core.CodeConflict)

	_, err = d.Exec(ctx, uniqueName(t), cmd, nil, nil, nil)
	assertCode(t, err, core.CodeNotFound)
}

// watchWriter collects what is written and closes seen once it contains
// want. Exec writes from its own goroutine, so it locks.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newWatchWriter(want string) *watchWriter {
	return &watchWriter{want: want, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
