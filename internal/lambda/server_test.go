package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests speak the Runtime API by hand, for the cases a well-behaved
// runtime never produces.

const api = "/2018-06-01/runtime"

type rawRuntime struct {
	t    *testing.T
	ctx  context.Context // ends at cleanup, with every request and Invoke
	srv  *Server
	url  string
	inst *Instance
}

func newRawRuntime(t *testing.T) *rawRuntime {
	t.Helper()
	srv := NewServer(func(r *http.Request) (string, bool) {
		key := r.Header.Get("X-Test-Instance")
		return key, key != ""
	}, testLogger(t))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	inst := srv.Register(fnKey, FunctionInfo{Name: "raw", ARN: "arn:test"})
	// Bounded, so that a broken Server fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel) // ends open long polls before ts.Close
	return &rawRuntime{t: t, ctx: ctx, srv: srv, url: ts.URL, inst: inst}
}

// do sends a Runtime API request as instance key and returns the status,
// headers and body.
func (rt *rawRuntime) do(ctx context.Context, key, method, path, body string, header http.Header) (int, http.Header, string) {
	rt.t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(rt.ctx, cancel)
	defer stop()
	req, err := http.NewRequestWithContext(ctx, method, rt.url+api+path, strings.NewReader(body))
	if err != nil {
		rt.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("X-Test-Instance", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rt.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (rt *rawRuntime) post(path, body string) (int, string) {
	rt.t.Helper()
	status, _, b := rt.do(rt.ctx, fnKey, http.MethodPost, path, body, nil)
	return status, b
}

// next takes the next event; it fails the test unless one comes.
func (rt *rawRuntime) next() (string, http.Header) {
	rt.t.Helper()
	ctx, cancel := context.WithTimeout(rt.ctx, 5*time.Second)
	defer cancel()
	status, h, body := rt.do(ctx, fnKey, http.MethodGet, "/invocation/next", "", nil)
	if status != http.StatusOK {
		rt.t.Fatalf("next: %d %s", status, body)
	}
	return body, h
}

// invokeAsync starts Invoke and returns where its outcome will arrive.
func (rt *rawRuntime) invokeAsync(ctx context.Context, inv Invocation) <-chan outcome {
	c := make(chan outcome, 1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(rt.ctx, cancel)
	go func() {
		defer stop()
		defer cancel()
		res, err := rt.inst.Invoke(ctx, inv)
		c <- outcome{res, err}
	}()
	return c
}

func wantErrorBody(t *testing.T, status int, body string, wantStatus int, wantType string) {
	t.Helper()
	var e struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != wantStatus || e.ErrorType != wantType || e.ErrorMessage == "" {
		t.Errorf("got %d %s, want %d with errorType %s", status, body, wantStatus, wantType)
	}
}

func receive(t *testing.T, c <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke did not return")
		return outcome{}
	}
}

func TestServerUnknownCaller(t *testing.T) {
	rt := newRawRuntime(t)
	for _, key := range []string{"", "someone-else"} {
		status, h, body := rt.do(rt.ctx, key, http.MethodGet, "/invocation/next", "", nil)
		wantErrorBody(t, status, body, http.StatusForbidden, "Forbidden")
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	}
}

func TestServerEventHeaders(t *testing.T) {
	rt := newRawRuntime(t)
	deadline := time.Now().Add(time.Minute)
	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{"a":1}`), Deadline: deadline, TraceID: "Root=1-x"})
	body, h := rt.next()
	if body != `{"a":1}` {
		t.Errorf("body = %q", body)
	}
	for name, want := range map[string]string{
		headerRequestID:   "r1",
		headerDeadline:    strconv.FormatInt(deadline.UnixMilli(), 10),
		headerFunctionARN: "arn:test",
		headerTraceID:     "Root=1-x",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	status, b := rt.post("/invocation/r1/response", `"ok"`)
	if status != http.StatusAccepted || strings.TrimSpace(b) != `{"status":"OK"}` {
		t.Errorf("response: %d %s", status, b)
	}
	if o := receive(t, done); o.err != nil || string(o.res.Payload) != `"ok"` {
		t.Errorf("Invoke = %q, %v", o.res.Payload, o.err)
	}
}

func TestServerUnknownOrAnsweredRequestID(t *testing.T) {
	rt := newRawRuntime(t)
	status, body := rt.post("/invocation/nope/response", `{}`)
	wantErrorBody(t, status, body, http.StatusBadRequest, "InvalidRequestID")

	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	status, body = rt.post("/invocation/other/error", `{}`)
	wantErrorBody(t, status, body, http.StatusBadRequest, "InvalidRequestID")
	if status, _ := rt.post("/invocation/r1/response", `1`); status != http.StatusAccepted {
		t.Fatalf("first answer: %d", status)
	}
	receive(t, done)
	status, body = rt.post("/invocation/r1/response", `2`)
	wantErrorBody(t, status, body, http.StatusBadRequest, "InvalidRequestID")
	status, body = rt.post("/invocation/r1/error", `{}`)
	wantErrorBody(t, status, body, http.StatusBadRequest, "InvalidRequestID")
}

func TestServerInvocationErrorBodies(t *testing.T) {
	tests := []struct {
		name, body, header string
		want               FunctionError
	}{
		{"documented json", `{"errorType":"KeyError","errorMessage":"id","stackTrace":["a","b"]}`, "",
			FunctionError{Type: "KeyError", Message: "id", StackTrace: json.RawMessage(`["a","b"]`)}},
		{"type from header", `{"errorMessage":"boom"}`, "Runtime.Crash",
			FunctionError{Type: "Runtime.Crash", Message: "boom"}},
		{"not json", `segfault`, "",
			FunctionError{Type: "Runtime.Unknown", Message: "segfault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newRawRuntime(t)
			done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
			rt.next()
			h := http.Header{}
			if tt.header != "" {
				h.Set(headerErrorType, tt.header)
			}
			if status, _, body := rt.do(rt.ctx, fnKey, http.MethodPost, "/invocation/r1/error", tt.body, h); status != http.StatusAccepted {
				t.Fatalf("error: %d %s", status, body)
			}
			o := receive(t, done)
			if o.err != nil || o.res.Error == nil {
				t.Fatalf("Invoke = %+v, %v", o.res, o.err)
			}
			got := *o.res.Error
			if got.Type != tt.want.Type || got.Message != tt.want.Message || string(got.StackTrace) != string(tt.want.StackTrace) {
				t.Errorf("error = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// aws-lambda-go reports a response stream that fails midway in trailers.
func TestServerResponseErrorTrailer(t *testing.T) {
	rt := newRawRuntime(t)
	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	fe, _ := json.Marshal(FunctionError{Type: "ReadError", Message: "disk gone"})
	req, _ := http.NewRequestWithContext(rt.ctx, http.MethodPost, rt.url+api+"/invocation/r1/response", io.NopCloser(strings.NewReader("partial")))
	req.Header.Set("X-Test-Instance", fnKey)
	req.Trailer = http.Header{
		trailerErrorType: {"ReadError"},
		trailerErrorBody: {base64.StdEncoding.EncodeToString(fe)},
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o := receive(t, done)
	if o.err != nil || o.res.Error == nil || o.res.Error.Message != "disk gone" || o.res.Payload != nil {
		t.Errorf("Invoke = %+v, %v", o.res, o.err)
	}
}

func TestServerInitErrorAfterInit(t *testing.T) {
	rt := newRawRuntime(t)
	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	status, body := rt.post("/init/error", `{"errorType":"Late","errorMessage":"too late"}`)
	wantErrorBody(t, status, body, http.StatusForbidden, "InvalidStateTransition")
	rt.post("/invocation/r1/response", `{}`)
	receive(t, done)
}

func TestServerInitErrorOnce(t *testing.T) {
	rt := newRawRuntime(t)
	done := rt.invokeAsync(rt.ctx, Invocation{Payload: []byte(`{}`)}) // waits for init
	if status, body := rt.post("/init/error", `{"errorType":"A","errorMessage":"a"}`); status != http.StatusAccepted {
		t.Fatalf("init error: %d %s", status, body)
	}
	if o := receive(t, done); !errors.Is(o.err, ErrInitFailed) {
		t.Errorf("waiting Invoke = %v, want ErrInitFailed", o.err)
	}
	status, body := rt.post("/init/error", `{"errorType":"B","errorMessage":"b"}`)
	wantErrorBody(t, status, body, http.StatusForbidden, "InvalidStateTransition")
	status, _, body = rt.do(rt.ctx, fnKey, http.MethodGet, "/invocation/next", "", nil)
	wantErrorBody(t, status, body, http.StatusForbidden, "InvalidStateTransition")
	if fe := <-rt.inst.InitError(); fe.Type != "A" {
		t.Errorf("InitError = %+v", fe)
	}
}

func TestServerNextEndsOnUnregister(t *testing.T) {
	rt := newRawRuntime(t)
	type reply struct {
		status int
		body   string
	}
	c := make(chan reply, 1)
	go func() {
		status, _, body := rt.do(rt.ctx, fnKey, http.MethodGet, "/invocation/next", "", nil)
		c <- reply{status, body}
	}()
	waitReady(t, rt.inst)
	rt.srv.Unregister(fnKey)
	select {
	case r := <-c:
		wantErrorBody(t, r.status, r.body, http.StatusInternalServerError, "ContainerError")
	case <-time.After(5 * time.Second):
		t.Fatal("GET /next still waiting after Unregister")
	}
	if _, err := rt.inst.Invoke(rt.ctx, Invocation{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Invoke after Unregister = %v", err)
	}
}

func TestServerNextEndsWithRequest(t *testing.T) {
	rt := newRawRuntime(t)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, api+"/invocation/next", nil)
	req.Header.Set("X-Test-Instance", fnKey)
	returned := make(chan struct{})
	go func() {
		rt.srv.ServeHTTP(httptest.NewRecorder(), req)
		close(returned)
	}()
	waitReady(t, rt.inst)
	cancel()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("GET /next handler still waiting after its request ended")
	}
	// The event goes to the next poll instead.
	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	rt.post("/invocation/r1/response", `{}`)
	if o := receive(t, done); o.err != nil {
		t.Error(o.err)
	}
}

// An Invoke that gives up after delivery leaves the instance busy until the
// runtime answers, so that no event queues behind a stuck one.
func TestServerAbandonedInvocation(t *testing.T) {
	rt := newRawRuntime(t)
	ctx, cancel := context.WithCancel(rt.ctx)
	done := rt.invokeAsync(ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	cancel()
	if o := receive(t, done); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Invoke = %v, want canceled", o.err)
	}
	if _, err := rt.inst.Invoke(rt.ctx, Invocation{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Invoke while the runtime works = %v, want ErrBusy", err)
	}
	if status, body := rt.post("/invocation/r1/response", `"late"`); status != http.StatusAccepted {
		t.Fatalf("late answer: %d %s", status, body)
	}
	done = rt.invokeAsync(rt.ctx, Invocation{RequestID: "r2", Payload: []byte(`{}`)})
	rt.next()
	rt.post("/invocation/r2/response", `"fresh"`)
	if o := receive(t, done); o.err != nil || string(o.res.Payload) != `"fresh"` {
		t.Errorf("Invoke = %q, %v", o.res.Payload, o.err)
	}
}

func TestServerNextWithoutAnswer(t *testing.T) {
	rt := newRawRuntime(t)
	done := rt.invokeAsync(rt.ctx, Invocation{RequestID: "r1", Payload: []byte(`{}`)})
	rt.next()
	go func() { // a second poll, which ends at cleanup's Unregister
		req, _ := http.NewRequestWithContext(rt.ctx, http.MethodGet, rt.url+api+"/invocation/next", nil)
		req.Header.Set("X-Test-Instance", fnKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if o := receive(t, done); !errors.Is(o.err, ErrNoResponse) {
		t.Errorf("Invoke = %v, want ErrNoResponse", o.err)
	}
}

func TestServerRegisterReplaces(t *testing.T) {
	rt := newRawRuntime(t)
	old := rt.inst
	rt.srv.Register(fnKey, FunctionInfo{Name: "new"})
	if _, err := old.Invoke(rt.ctx, Invocation{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("replaced instance Invoke = %v, want ErrUnregistered", err)
	}
}
