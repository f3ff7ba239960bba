package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lambdaApp writes a stack whose image is the aws-lambda-go function in
// testdata/lambdafn, built here.
func lambdaApp(t *testing.T, stack, manifest string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), stack)
	os.MkdirAll(dir, 0o755)
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "fn"), "./testdata/lambdafn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the function: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY fn /fn\nENTRYPOINT [\"/fn\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte("name: "+stack+"\n"+manifest), 0o644)
	return dir
}

// TestServerlessLambda: a function on the Lambda Runtime API serves HTTP
// through API Gateway events, from zero; its errors, init failures and
// silence are reported; it can be invoked directly and on a schedule.
func TestServerlessLambda(t *testing.T) {
	s := startServer(t)
	app := lambdaApp(t, "fnl", `healthcheck: {path: /, start_timeout: 5s}
architecture: serverless
serverless:
  handler: lambda
  memory: 256
  timeout: 3s
  idle: 3s
stages:
  - name: dev
    env: {GREETING: hi}
    serverless:
      schedules:
        - expression: rate(1 minute)
`)
	deployed := time.Now()
	s.mustRun(app, "deploy", "-q")
	host := "dev.fnl.localhost"

	// The client's own X-Forwarded-For is not believed (no trusted
	// proxies): the event has the gateway's, and its peer as sourceIp.
	code, body, h := s.gwHeaders("POST", host, "/hello?x=1", `{"n":1}`, map[string]string{"X-Forwarded-For": "6.6.6.6"})
	var echo map[string]string
	json.Unmarshal([]byte(body), &echo)
	if code != 201 || echo["method"] != "POST" || echo["path"] != "/hello" || echo["query"] != "x=1" || echo["body"] != `{"n":1}` ||
		echo["stage"] != "dev" || echo["greeting"] != "hi" || echo["sourceIp"] != "127.0.0.1" || echo["xff"] != "127.0.0.1" {
		t.Fatalf("POST /hello: %d %s", code, body)
	}
	if h.Get("X-Fn") != "lambdafn" || !strings.Contains(h.Get("Set-Cookie"), "flavour=lemon") || h.Get("X-Slipway-Cold-Start") != "false" {
		t.Fatalf("headers: %v", h)
	}
	if code, body, _ := s.gw("GET", host, "/raw", ""); code != 200 || !strings.Contains(body, `"answer":"raw"`) {
		t.Fatalf("a bare JSON answer: %d %s", code, body)
	}
	code, body, _ = s.gw("GET", host, "/fail", "")
	if code != 502 || !strings.Contains(body, "function_error") || !strings.Contains(body, "ShelfError") || !strings.Contains(body, "the shelf is empty") {
		t.Fatalf("handler error: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "the function error in the server log", func() error {
		if !strings.Contains(s.logs.String(), `error_message="the shelf is empty"`) {
			return fmt.Errorf("not there")
		}
		return nil
	})
	code, body, _ = s.gw("GET", host, "/sleep?ms=6000", "")
	if code != 504 || !strings.Contains(body, "function_timeout") {
		t.Fatalf("past the timeout: %d %s", code, body)
	}

	// Direct invocation with a raw event.
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte(`{"version":"2.0","rawPath":"/hello","requestContext":{"http":{"method":"PUT"},"stage":"direct"}}`), 0o644)
	r := s.mustRun(app, "invoke", "fnl", "dev", "--event", event)
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || resp.StatusCode != 201 || !strings.Contains(resp.Body, `"method":"PUT"`) {
		t.Fatalf("invoke: %v %q", err, r.stdout)
	}
	if line := errorLine(t, s.run(app, "invoke", "fnl", "dev", "--event", writeTemp(t, `{"version":"2.0","rawPath":"/fail"}`))); !strings.Contains(line, "the shelf is empty") {
		t.Fatalf("invoke of a failing event: %q", line)
	}

	// A release whose function fails its init, or never asks for an
	// event, is refused; dev keeps serving the release it had.
	if line := errorLine(t, s.run(app, "env", "set", "fnl", "dev", "FN_INIT=fail")); !strings.Contains(line, "FN_INIT says fail") {
		t.Fatalf("init error: %q", line)
	}
	if line := errorLine(t, s.run(app, "env", "set", "fnl", "dev", "FN_INIT=silent")); !strings.Contains(line, "never asked the Runtime API") {
		t.Fatalf("silent function: %q", line)
	}
	if code, _, _ := s.gw("GET", host, "/hello", ""); code != 201 {
		t.Fatalf("dev after refused releases: %d", code)
	}

	// From zero: a cold start, then warm.
	eventually(t, 30*time.Second, "dev scaled to zero", func() error {
		if n := liveInstances(t, s, "fnl", "dev"); n != 0 {
			return fmt.Errorf("%d instances", n)
		}
		return nil
	})
	if code, _, h := s.gw("GET", host, "/hello", ""); code != 201 || h.Get("X-Slipway-Cold-Start") != "true" {
		t.Fatalf("from zero: %d cold=%q", code, h.Get("X-Slipway-Cold-Start"))
	}

	// The schedule fires within a minute of the deploy (rate ticks on
	// the minute).
	eventually(t, time.Until(deployed.Add(75*time.Second)), "a scheduled invocation", func() error {
		if !strings.Contains(s.logs.String(), `msg="scheduled invocation" component=serverless stack=fnl stage=dev`) {
			return fmt.Errorf("none yet")
		}
		return nil
	})
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	os.WriteFile(p, []byte(content), 0o644)
	return p
}
