package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (.ci/run installs it), or
// SLIPWAY_CHROMIUM. The browser tests fail when it is missing: they run
// only outside -short, where a missing browser is a broken machine.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SLIPWAY_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("the browser tests need chromium at %s (apt-get install chromium, or set SLIPWAY_CHROMIUM): %v", p, err)
	}
	return p
}

// artifactsDir is where screenshots go: $SLIPWAY_ARTIFACTS, or
// integration/artifacts (gitignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLIPWAY_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir, _ = filepath.Abs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless chromium and returns a tab's context.
// JavaScript dialogs (the dashboard's confirm() before approve and
// rollback) are accepted.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses its sandbox as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, to fail early
		t.Fatalf("start chromium: %v", err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// shoot saves a full-page PNG screenshot as an artifact.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// do runs browser steps, failing the test with the page's text if one fails.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		failPage(t, ctx, what, err)
	}
}

// value runs one browser action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		failPage(t, ctx, what, err)
	}
	return v
}

func failPage(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	return value(t, ctx, "read "+css, chromedp.Text(chromedp.CSS(css)))
}

// waitText waits until the element css holds want: after a form post
// the old page (its flash too) stays until the answer replaces it.
func waitText(t *testing.T, ctx context.Context, css, want string) string {
	t.Helper()
	var got string
	eventually(t, 60*time.Second, fmt.Sprintf("%s to show %q", css, want), func() error {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", css)))
		if err != nil {
			return err
		}
		if got = v; !strings.Contains(got, want) {
			return fmt.Errorf("shows %q", got)
		}
		return nil
	})
	return got
}

func count(t *testing.T, ctx context.Context, css string) int {
	t.Helper()
	return value(t, ctx, "count "+css, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", css)))
}

// TestDashboardInBrowser drives the dashboard in a real chromium: log in
// with the token, see the stack, approve the release awaiting approval,
// roll a stage back, and watch a stage's charts draw after some traffic.
func TestDashboardInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := startServer(t)
	manifest := func(dev string) string {
		return "stages:\n  - name: dev\n    env: {VERSION: " + dev + "}\n  - name: prod\n    approval: true\n    env: {VERSION: prod}\n"
	}
	s.mustRun(fixtureApp(t, "dash", manifest("v1")), "deploy", "-q") // b1: dev r1, prod awaits b1
	// Traffic to dev from now to the charts, 1 request a second then 5
	// (one a 404) in turns of 10 s, so that the 15m chart, whose points
	// are the 10 s windows, draws a line.
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		for i := 0; ; i++ {
			for j := range 1 + 4*(i/10%2) {
				path := "/ping"
				if j == 4 {
					path = "/missing"
				}
				s.tryGW("GET", "dev.dash.localhost", path)
			}
			select {
			case <-stopTraffic:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	endTraffic := sync.OnceFunc(func() { close(stopTraffic); <-trafficDone })
	t.Cleanup(endTraffic)
	s.mustRun(fixtureApp(t, "dash", manifest("v2")), "deploy", "-q") // b2: dev r2, prod awaits b2
	if st := status(t, s, "dash"); st.Stages[1].Awaiting != "b2" {
		t.Fatalf("prod should await b2: %+v", st.Stages[1])
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// The root redirects to the dashboard, which asks for the token.
	do(t, ctx, "open the dashboard", chromedp.Navigate(s.api+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	loc := value(t, ctx, "location", chromedp.Location())
	title := value(t, ctx, "title", chromedp.Title())
	if !strings.HasPrefix(loc, s.api+"/ui/login") || !strings.Contains(title, "Log in") {
		t.Fatalf("not sent to the login page: %s %q", loc, title)
	}
	shoot(t, ctx, "01-login")
	do(t, ctx, "log in with a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "slw_wrong"), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(css(".flash.bad")))
	if flash := text(t, ctx, ".flash.bad"); !strings.Contains(flash, "not the admin token") {
		t.Fatalf("wrong token message: %q", flash)
	}
	do(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("token"), s.token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(css("table.list")))
	overview := text(t, ctx, "table.list")
	for _, want := range []string{"dash", "dev: serving", "prod: not-deployed", "container", "gateway"} {
		if !strings.Contains(overview, want) {
			t.Fatalf("overview lacks %q:\n%s", want, overview)
		}
	}
	if n := count(t, ctx, "svg.spark path"); n != 1 {
		t.Fatalf("%d sparklines on the overview, want 1", n)
	}
	shoot(t, ctx, "02-overview")

	// The stack page: approve prod's pending build.
	do(t, ctx, "open the stack", chromedp.Click(css(`a[href="/ui/stacks/dash"]`)), chromedp.WaitVisible(chromedp.ID("stage-prod")))
	if prod := text(t, ctx, "#stage-prod"); !strings.Contains(prod, "Build b2 awaits approval") || !strings.Contains(prod, "none") {
		t.Fatalf("prod before approval:\n%s", prod)
	}
	shoot(t, ctx, "03-stack-awaiting")
	do(t, ctx, "approve", chromedp.Click(css("#stage-prod form.approval button")))
	waitText(t, ctx, ".flash.ok", "Approved: release r3 of build b2 serves stage prod")
	if prod := text(t, ctx, "#stage-prod"); !strings.Contains(prod, "r3") || strings.Contains(prod, "awaits approval") {
		t.Fatalf("prod after approving:\n%s", prod)
	}
	if code, body, _ := s.gw("GET", "prod.dash.localhost", "/version", ""); code != 200 || body != "prod" {
		t.Fatalf("prod after approval through the gateway: %d %q", code, body)
	}

	// Roll dev back to r1 from its release history.
	do(t, ctx, "roll back", chromedp.Click(css(`#releases-dev button[data-confirm="Roll dev back to r1?"]`)))
	waitText(t, ctx, ".flash.ok", "Rolled back: release r4 (from r1) serves stage dev")
	dev, history := text(t, ctx, "#stage-dev .current-release"), text(t, ctx, "#releases-dev tr.current")
	if !strings.Contains(dev, "r4") || !strings.Contains(dev, "build b1") || !strings.Contains(history, "r4") || !strings.Contains(history, "from r1") {
		t.Fatalf("after rolling back: current %q, history row %q", dev, history)
	}
	if _, body, _ := s.gw("GET", "dev.dash.localhost", "/version", ""); body != "v1" {
		t.Fatalf("dev serves %q after the rollback, want v1", body)
	}
	shoot(t, ctx, "04-stack-after")

	// A build's page shows its log.
	do(t, ctx, "open a build", chromedp.Navigate(s.api+"/ui/stacks/dash/builds/b2"), chromedp.WaitVisible(chromedp.ID("build-log")))
	if log := text(t, ctx, "#build-log"); !strings.Contains(log, "b2") {
		t.Fatalf("build log:\n%s", log)
	}
	shoot(t, ctx, "05-build")

	// The 15m chart's requests line: the 10 s windows of the traffic
	// so far (at least three of them).
	eventually(t, 45*time.Second, "the 15m requests chart draws a line", func() error {
		try, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(try, chromedp.Navigate(s.api+"/ui/stacks/dash/stages/dev/charts?range=15m"), chromedp.WaitVisible(css("svg.chart path.series"))); err != nil {
			return err
		}
		d := value(t, ctx, "the requests path", chromedp.Evaluate[string](`document.querySelector("svg.chart path.series").getAttribute("d")`))
		if n := strings.Count(d, "L"); n < 2 {
			return fmt.Errorf("the requests path has %d segments: %s", n, d)
		}
		return nil
	})
	endTraffic()
	if unit := value(t, ctx, "chart title", chromedp.Evaluate[string](`document.querySelector("svg.chart .title").textContent`)); !strings.Contains(unit, "per 10 s") {
		t.Fatalf("the 15m requests chart is titled %q", unit)
	}
	shoot(t, ctx, "06-charts-15m")

	// Traffic, then the charts: a path drawn in the requests chart.
	for i := 0; i < 40; i++ {
		path := "/ping"
		if i%8 == 0 {
			path = "/missing"
		}
		s.gw("GET", "dev.dash.localhost", path, "")
	}
	eventually(t, 30*time.Second, "the requests chart draws the traffic", func() error {
		try, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(try, chromedp.Navigate(s.api+"/ui/stacks/dash/stages/dev/charts?range=1h"), chromedp.WaitVisible(css("svg.chart"))); err != nil {
			return err
		}
		if n := count(t, ctx, "svg.chart path.series"); n == 0 {
			return fmt.Errorf("no series path yet")
		}
		return nil
	})
	if n, active, first := count(t, ctx, "svg.chart"), text(t, ctx, ".ranges a.active"), value(t, ctx, "chart title", chromedp.Evaluate[string](`document.querySelector("svg.chart .title").textContent`)); n != 6 || active != "1h" || !strings.HasPrefix(first, "Requests") {
		t.Fatalf("%d charts, range %q, first %q", n, active, first)
	}
	shoot(t, ctx, "06-charts-1h")
	do(t, ctx, "switch to 7d", chromedp.Click(css(`.ranges a[href="?range=7d"]`)), chromedp.WaitVisible(css(`.ranges a.active[href="?range=7d"]`)))
	shoot(t, ctx, "07-charts-7d")

	// The log viewer: access lines, then Follow appends a new request.
	do(t, ctx, "open the access log", chromedp.Navigate(s.api+"/ui/stacks/dash/stages/dev/logs?kind=access&since=1h"), chromedp.WaitVisible(chromedp.ID("log-lines")))
	if lines := text(t, ctx, "#log-lines"); !strings.Contains(lines, "GET dev.dash.localhost/ping 200") {
		t.Fatalf("access log in the viewer:\n%s", lines)
	}
	do(t, ctx, "follow", chromedp.Click(chromedp.ID("follow")), chromedp.WaitVisible(css("#follow.active")))
	s.gw("GET", "dev.dash.localhost", "/followed-request", "")
	waitText(t, ctx, "#log-lines", "/followed-request")
	shoot(t, ctx, "08-logs-access")

	// The overview's sparkline and rate count the traffic too.
	eventually(t, 30*time.Second, "the overview counts the traffic", func() error {
		try, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(try, chromedp.Navigate(s.api+"/ui/"), chromedp.WaitVisible(css("td.spark-cell"))); err != nil {
			return err
		}
		if rate := text(t, ctx, "td.spark-cell"); strings.Contains(rate, "0.0/min") {
			return fmt.Errorf("rate %q", rate)
		}
		return nil
	})
	shoot(t, ctx, "12-overview-traffic")

	// Runtime logs: the instances' output.
	do(t, ctx, "open the runtime log", chromedp.Navigate(s.api+"/ui/stacks/dash/stages/dev/logs?kind=runtime&since=1h"), chromedp.WaitVisible(chromedp.ID("log-lines")))
	if lines := text(t, ctx, "#log-lines"); !strings.Contains(lines, "listening on") {
		t.Fatalf("runtime log in the viewer:\n%s", lines)
	}

	// A running build's page appends its lines live (server-sent events)
	// and turns its status when it ends.
	slow := fixtureApp(t, "dash", manifest("v3"))
	bs, _ := os.ReadFile(filepath.Join(slow, "build.yml"))
	os.WriteFile(filepath.Join(slow, "build.yml"), []byte(strings.Replace(string(bs), "commands:\n", "commands:\n      - echo warming up; sleep 6\n", 1)), 0o644)
	building := make(chan result, 1)
	go func() { building <- s.run(slow, "deploy", "-q") }()
	eventually(t, 30*time.Second, "build b3 runs", func() error {
		try, cancel := context.WithTimeout(ctx, 5*time.Second) // a 404 page has no #build-log to wait for
		defer cancel()
		if err := chromedp.Do(try, chromedp.Navigate(s.api+"/ui/stacks/dash/builds/b3"), chromedp.WaitVisible(chromedp.ID("build-log"))); err != nil {
			return err
		}
		if st := text(t, ctx, "#build-status"); st != "running" {
			return fmt.Errorf("b3 is %q", st)
		}
		return nil
	})
	if n := count(t, ctx, "#build-log[data-events]"); n != 1 {
		t.Fatal("a running build's page does not follow its events")
	}
	shoot(t, ctx, "09-build-running")
	waitText(t, ctx, "#build-log", "release r5 of build b3 is serving stage dev")
	waitText(t, ctx, "#build-status", "succeeded")
	if r := <-building; r.code != 0 {
		t.Fatalf("the slow deploy failed: %s", r.stderr)
	}
	if lines := text(t, ctx, "#build-log"); strings.Count(lines, "build b3 of stack dash") != 1 {
		t.Fatalf("the live log repeats or lacks its first line:\n%s", lines)
	}
	shoot(t, ctx, "10-build-live-done")
	do(t, ctx, "open the builds", chromedp.Navigate(s.api+"/ui/stacks/dash/builds"), chromedp.WaitVisible(css("table.list")))
	if list := text(t, ctx, "table.list"); !strings.Contains(list, "b3") || strings.Count(list, "succeeded") != 3 {
		t.Fatalf("builds list:\n%s", list)
	}
	shoot(t, ctx, "13-builds")
	do(t, ctx, "open the release log", chromedp.Navigate(s.api+"/ui/stacks/dash/stages/dev/logs?kind=release&since=1h"), chromedp.WaitVisible(chromedp.ID("log-lines")))
	if lines := text(t, ctx, "#log-lines"); !strings.Contains(lines, "release r5 to stage dev") {
		t.Fatalf("release log in the viewer:\n%s", lines)
	}
	shoot(t, ctx, "14-logs-release")

	// Log out: the session ends, and pages ask for the token again.
	do(t, ctx, "log out", chromedp.Click(css("form.logout button")), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Navigate(s.api+"/ui/stacks/dash"), chromedp.WaitVisible(chromedp.ID("token")))

	// Without JavaScript the dashboard still works: log in, approve b3
	// (awaiting prod since its deploy) with a plain form post, read charts.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	do(t, ctx, "log in without JS", chromedp.Navigate(s.api+"/ui/stacks/dash"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.token), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("stage-prod")))
	do(t, ctx, "approve without JS", chromedp.Click(css("#stage-prod form.approval button")))
	waitText(t, ctx, ".flash.ok", "Approved: release r6 of build b3 serves stage prod")
	do(t, ctx, "logs without JS", chromedp.Navigate(s.api+"/ui/stacks/dash/stages/prod/logs?kind=access"), chromedp.WaitVisible(chromedp.ID("log-lines")))
	if n := count(t, ctx, "#follow[hidden]"); n != 1 {
		t.Fatal("the Follow button (JS only) shows without JS")
	}
	do(t, ctx, "charts without JS", chromedp.Navigate(s.api+"/ui/stacks/dash/stages/prod/charts?range=24h"), chromedp.WaitVisible(css("svg.chart")))
	if n := count(t, ctx, "svg.chart"); n != 6 {
		t.Fatalf("%d charts without JS", n)
	}
	shoot(t, ctx, "11-charts-24h-nojs")
}
