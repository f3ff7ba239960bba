package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// TestFunction runs a real aws-lambda-go function (testdata/fn) as a host
// process against a Server, one process per subtest.
func TestFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function binary")
	}
	bin := buildFunction(t)

	t.Run("http event round trip", func(t *testing.T) {
		f := startFunction(t, bin, "")
		waitReady(t, f.inst)
		req := httptest.NewRequest(http.MethodPost, "http://dev.shop.localhost/orders/7?verbose=1", strings.NewReader(`{"qty":2}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "theme=dark; lang=en")
		ev, err := HTTPEventV2(req, []byte(`{"qty":2}`), "dev", "req-http", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res := f.invoke(t, Invocation{RequestID: "req-http", Payload: ev})
		if res.Error != nil {
			t.Fatalf("function error: %v", res.Error)
		}
		if res.Duration <= 0 {
			t.Errorf("Duration = %v, want > 0", res.Duration)
		}
		rec := httptest.NewRecorder()
		if err := WriteHTTPResponse(rec, res.Payload, PayloadV2); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusCreated {
			t.Errorf("status = %d, want 201", rec.Code)
		}
		if got := rec.Header().Get("X-Echo"); got != "yes" {
			t.Errorf("X-Echo = %q", got)
		}
		if got := rec.Header().Values("Set-Cookie"); len(got) != 1 || got[0] != "session=abc123; Path=/; HttpOnly" {
			t.Errorf("Set-Cookie = %q", got)
		}
		var echo struct {
			Method, Path, Body string
			Query              map[string]string
			Cookies            []string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &echo); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if echo.Method != "POST" || echo.Path != "/orders/7" || echo.Body != `{"qty":2}` ||
			echo.Query["verbose"] != "1" || strings.Join(echo.Cookies, "|") != "theme=dark|lang=en" {
			t.Errorf("function saw %+v", echo)
		}
	})

	t.Run("invocation headers reach the handler context", func(t *testing.T) {
		f := startFunction(t, bin, "")
		deadline := time.Now().Add(time.Minute).Truncate(time.Millisecond)
		res := f.invoke(t, Invocation{RequestID: "req-ctx", Payload: []byte(`{}`), Deadline: deadline, TraceID: "Root=1-abc"})
		var got struct {
			RequestID, FunctionArn, FunctionName, TraceID string
			MemoryMB                                      int
			DeadlineMs                                    int64
		}
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("payload %q: %v", res.Payload, err)
		}
		want := "arn:aws:lambda:us-east-1:000000000000:function:echo"
		if got.RequestID != "req-ctx" || got.FunctionArn != want || got.FunctionName != "echo" ||
			got.MemoryMB != 256 || got.TraceID != "Root=1-abc" || got.DeadlineMs != deadline.UnixMilli() {
			t.Errorf("handler saw %+v", got)
		}
	})

	t.Run("handler error", func(t *testing.T) {
		f := startFunction(t, bin, "")
		res := f.invoke(t, Invocation{Payload: []byte(`{"mode":"error"}`)})
		if res.Error == nil {
			t.Fatalf("want a function error, got payload %q", res.Payload)
		}
		if res.Error.Type != "TeapotError" || res.Error.Message != "short and stout" {
			t.Errorf("error = %+v", res.Error)
		}
		// Lambda keeps an instance whose handler failed.
		if res := f.invoke(t, Invocation{Payload: []byte(`{"mode":"sleep"}`)}); string(res.Payload) != `"slept"` {
			t.Errorf("after an error: %q, %v", res.Payload, res.Error)
		}
	})

	t.Run("init error", func(t *testing.T) {
		f := startFunction(t, bin, "init-error")
		select {
		case fe := <-f.inst.InitError():
			if fe.Type != "ConfigError" || fe.Message != "DATABASE_URL is not set" {
				t.Errorf("init error = %+v", fe)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no init error")
		}
		select {
		case <-f.inst.Ready():
			t.Error("Ready closed after an init error")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{}`)})
		var fe *FunctionError
		if !errors.Is(err, ErrInitFailed) || !errors.As(err, &fe) || fe.Type != "ConfigError" {
			t.Errorf("Invoke after init error = %v", err)
		}
	})

	t.Run("never polls", func(t *testing.T) {
		f := startFunction(t, bin, "no-next")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{}`)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Invoke = %v, want deadline exceeded", err)
		}
		select {
		case <-f.inst.Ready():
			t.Error("Ready closed, but the function never asked for an event")
		default:
		}
		// The undelivered event is forgotten: the instance is not busy.
		f.inst.mu.Lock()
		busy := f.inst.current != nil
		f.inst.mu.Unlock()
		if busy {
			t.Error("instance still busy with an event it never saw")
		}
	})

	t.Run("response size limit", func(t *testing.T) {
		f := startFunction(t, bin, "")
		// A JSON string of exactly MaxPayloadSize bytes passes...
		res := f.invoke(t, Invocation{Payload: []byte(`{"mode":"big","size":6291454}`)})
		if res.Error != nil || len(res.Payload) != MaxPayloadSize {
			t.Fatalf("at the limit: %d bytes, %v", len(res.Payload), res.Error)
		}
		// ...one byte more does not.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{"mode":"big","size":6291455}`)})
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("over the limit: %v, want ErrResponseTooLarge", err)
		}
	})

	t.Run("second concurrent invoke is refused", func(t *testing.T) {
		f := startFunction(t, bin, "")
		waitReady(t, f.inst)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		first := make(chan Result, 1)
		go func() {
			res, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{"mode":"sleep","sleepMs":300}`)})
			if err != nil {
				t.Error(err)
			}
			first <- res
		}()
		waitDelivered(t, f.inst)
		_, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{}`)})
		if !errors.Is(err, ErrBusy) {
			t.Errorf("second Invoke = %v, want ErrBusy", err)
		}
		if res := <-first; string(res.Payload) != `"slept"` {
			t.Errorf("first Invoke = %q, %v", res.Payload, res.Error)
		}
	})

	t.Run("unregister ends a waiting invoke", func(t *testing.T) {
		f := startFunction(t, bin, "")
		waitReady(t, f.inst)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := f.inst.Invoke(ctx, Invocation{Payload: []byte(`{"mode":"sleep","sleepMs":30000}`)})
			errc <- err
		}()
		waitDelivered(t, f.inst)
		f.srv.Unregister(fnKey)
		select {
		case err := <-errc:
			if !errors.Is(err, ErrUnregistered) {
				t.Errorf("Invoke = %v, want ErrUnregistered", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Invoke still waiting after Unregister")
		}
	})
}

const fnKey = "fn"

// buildFunction builds testdata/fn the way Lambda Go functions are built.
func buildFunction(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/fn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build function: %v\n%s", err, out)
	}
	return bin
}

type function struct {
	srv  *Server
	inst *Instance
}

// startFunction registers an instance on a new Server and starts the
// function binary against it, with FN_MODE=mode.
func startFunction(t *testing.T, bin, mode string) *function {
	t.Helper()
	srv := NewServer(func(*http.Request) (string, bool) { return fnKey, true }, testLogger(t))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	fn := FunctionInfo{Name: "echo", MemoryMB: 256}
	inst := srv.Register(fnKey, fn)

	var out testutil.SyncBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(fn.Env(strings.TrimPrefix(ts.URL, "http://")), "FN_MODE="+mode)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		srv.Unregister(fnKey)
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return &function{srv: srv, inst: inst}
}

// invoke calls Invoke with a generous timeout and fails on an error.
func (f *function) invoke(t *testing.T, inv Invocation) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := f.inst.Invoke(ctx, inv)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return res
}

func waitReady(t *testing.T, in *Instance) {
	t.Helper()
	select {
	case <-in.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("instance never became ready")
	}
}

// waitDelivered waits until the runtime has taken the event in flight.
func waitDelivered(t *testing.T, in *Instance) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
		in.mu.Lock()
		delivered := in.current != nil && !in.current.delivered.IsZero()
		in.mu.Unlock()
		if delivered {
			return
		}
	}
	t.Fatal("event never delivered")
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
