package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// fakeService is a unit-test stand-in for service.Service: one stack with
// dev (serving r2, r1 before it) and prod (b1 awaiting approval).
type fakeService struct {
	approved, rolledTo []string
}

func (f *fakeService) status() core.StackStatus {
	rel := core.Release{ID: "r2", Stack: "shop", Stage: "dev", Build: "b2", Status: core.ReleaseActive, Trigger: "deploy", CreatedAt: t0}
	return core.StackStatus{Name: "shop", Architecture: core.ArchContainer, UpdatedAt: t0, Stages: []core.StageStatus{
		{Name: "dev", Status: "serving", Endpoint: "gateway", Release: &rel, Desired: 1, Instances: []core.Instance{{Name: "i1", Healthy: true}}},
		{Name: "prod", Status: "not-deployed", Endpoint: "balancer", Awaiting: "b1", Instances: []core.Instance{}},
	}}
}

func (f *fakeService) List(ctx context.Context) ([]core.StackStatus, error) {
	return []core.StackStatus{f.status()}, nil
}

func (f *fakeService) Status(ctx context.Context, name string) (core.StackStatus, error) {
	if name != "shop" {
		return core.StackStatus{}, core.Errorf(core.CodeNotFound, "no stack %q", name)
	}
	return f.status(), nil
}

func (f *fakeService) Builds(ctx context.Context, stack string) ([]core.Build, error) {
	return []core.Build{{ID: "b2", Stack: "shop", Status: core.BuildSucceeded, StartedAt: t0}, {ID: "b1", Stack: "shop", Status: core.BuildSucceeded, StartedAt: t0}}, nil
}

func (f *fakeService) Build(ctx context.Context, stack, id string) (core.Build, error) {
	if id != "b1" && id != "b2" {
		return core.Build{}, core.Errorf(core.CodeNotFound, "no build %s", id)
	}
	return core.Build{ID: id, Stack: stack, Status: core.BuildSucceeded, StartedAt: t0}, nil
}

func (f *fakeService) FollowBuild(ctx context.Context, stack, build string, fn func(core.Event) error) error {
	for _, ev := range []core.Event{{Type: core.EventStep, Message: "build image"}, {Type: core.EventLog, Message: "<step 1/2>"}, {Type: core.EventDone, Message: "done"}} {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeService) Releases(ctx context.Context, stack, stage string) ([]core.Release, error) {
	return []core.Release{
		{ID: "r2", Stack: "shop", Stage: "dev", Build: "b2", Status: core.ReleaseActive, CreatedAt: t0},
		{ID: "r1", Stack: "shop", Stage: "dev", Build: "b1", Status: core.ReleaseSuperseded, CreatedAt: t0},
		{ID: "r0", Stack: "shop", Stage: "dev", Build: "b0", Status: core.ReleaseFailed, CreatedAt: t0},
	}, nil
}

func (f *fakeService) Approve(ctx context.Context, stack, stage, expect string, emit func(core.Event)) (core.Release, error) {
	f.approved = append(f.approved, stack+"/"+stage+"@"+expect)
	return core.Release{ID: "r3", Stage: stage, Build: expect}, nil
}

func (f *fakeService) Rollback(ctx context.Context, stack, stage, to string, emit func(core.Event)) (core.Release, error) {
	f.rolledTo = append(f.rolledTo, stack+"/"+stage+"@"+to)
	return core.Release{ID: "r4", Stage: stage, From: to}, nil
}

type fakeMetrics struct{}

func (fakeMetrics) Series(stack, stage, metric string, from, to time.Time, step time.Duration) []Point {
	var out []Point
	for t := from; t.Before(to); t = t.Add(step) {
		out = append(out, Point{T: t, V: float64(len(metric))})
	}
	return out
}

type fakeLogs struct{ q []LogQuery }

func (f *fakeLogs) ReadLogs(ctx context.Context, q LogQuery) ([]LogLine, error) {
	f.q = append(f.q, q)
	return []LogLine{{Time: t0, Instance: "i1", Text: "listening on :8000 <b>"}}, nil
}

const testToken = "slw_test_token"

func newTestDashboard(t *testing.T) (*httptest.Server, *fakeService, *fakeLogs) {
	t.Helper()
	svc, logs := &fakeService{}, &fakeLogs{}
	d, err := New(Config{Service: svc, Metrics: fakeMetrics{}, Logs: logs, Token: testToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv, svc, logs
}

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func login(t *testing.T, srv *httptest.Server, c *http.Client) string {
	t.Helper()
	resp, _ := post(t, c, srv.URL+"/ui/login", url.Values{"token": {testToken}, "next": {"/ui/stacks/shop"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/stacks/shop" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := get(t, c, srv.URL+"/ui/stacks/shop")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the stack page:\n%s", body)
	}
	return m[1]
}

func TestRedirectsAndLogin(t *testing.T) {
	srv, _, _ := newTestDashboard(t)
	c := browser(t)
	if resp, _ := get(t, c, srv.URL+"/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ := get(t, c, srv.URL+"/ui/stacks/shop?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?next=%2Fui%2Fstacks%2Fshop%3Fx%3D1" {
		t.Fatalf("unauthenticated page: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/logs/lines?after=2026-01-01T00:00:00Z"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated data: %d", resp.StatusCode)
	}
	resp, body := post(t, c, srv.URL+"/ui/login", url.Values{"token": {"wrong"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not the admin token") || strings.Contains(body, testToken) {
		t.Fatalf("wrong token: %d\n%s", resp.StatusCode, body)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a wrong token got a cookie")
	}
	resp, _ = post(t, c, srv.URL+"/ui/login", url.Values{"token": {testToken}})
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == testToken {
		t.Fatalf("session cookie: %+v", cookie)
	}
	if resp, body := get(t, c, srv.URL+"/ui/"); resp.StatusCode != 200 || !strings.Contains(body, "shop") {
		t.Fatalf("overview after login: %d", resp.StatusCode)
	}
	// A cross-site login attempt is refused.
	req, _ := http.NewRequest("POST", srv.URL+"/ui/login", strings.NewReader("token="+testToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := browser(t).Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %v %v", resp.StatusCode, err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _, _ := newTestDashboard(t)
	for _, p := range []string{"/ui/login", "/ui/", "/ui/static/style.css", "/ui/static/app.js", "/"} {
		resp, _ := get(t, browser(t), srv.URL+p)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	if resp, body := get(t, browser(t), srv.URL+"/ui/static/style.css"); resp.StatusCode != 200 || !strings.Contains(body, "svg.chart") {
		t.Fatalf("stylesheet: %d", resp.StatusCode)
	}
}

// TestPagesRender renders every page from the fakes. The CSP forbids
// inline script and style, so no page may carry any (it would silently
// not run).
func TestPagesRender(t *testing.T) {
	srv, _, logs := newTestDashboard(t)
	c := browser(t)
	login(t, srv, c)
	pages := map[string][]string{
		"/ui/":                                        {"shop", "dev: serving", "gateway, balancer", `<svg class="spark"`},
		"/ui/stacks/shop":                             {"Approve b1", "Roll back to r1", "never served", "current"},
		"/ui/stacks/shop/builds":                      {"b2", "succeeded"},
		"/ui/stacks/shop/builds/b1":                   {"build image", "&lt;step 1/2&gt;"},
		"/ui/stacks/shop/stages/dev/charts":           {`<svg class="chart"`, "<path class=\"series s0\"", "Latency", "Cold starts", `class="active"`},
		"/ui/stacks/shop/stages/dev/charts?range=7d":  {"per hour"},
		"/ui/stacks/shop/stages/dev/charts?range=15m": {"per 10 s", `href="?range=15m" class="active"`},
		"/ui/stacks/shop/stages/dev/logs?kind=access&since=30m&grep=GET": {"listening on :8000 &lt;b&gt;", `data-kind="access"`, `id="follow"`},
	}
	for p, wants := range pages {
		resp, body := get(t, c, srv.URL+p)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d\n%s", p, resp.StatusCode, body)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", p, w)
			}
		}
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || strings.Contains(body, " onclick=") || strings.Contains(body, "style=") {
			t.Errorf("%s has inline script or style", p)
		}
	}
	if q := logs.q[len(logs.q)-1]; q.Kind != "access" || q.Grep != "GET" || q.Stack != "shop" || q.Stage != "dev" || !q.Since.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("log query: %+v", q)
	}
	for p, want := range map[string]int{
		"/ui/stacks/nope":                           404,
		"/ui/stacks/shop/stages/nope/charts":        404,
		"/ui/stacks/shop/stages/dev/charts?range=2": 400,
		"/ui/nowhere":                               404,
	} {
		if resp, _ := get(t, c, srv.URL+p); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", p, resp.StatusCode, want)
		}
	}
	if _, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/logs?kind=bogus"); !strings.Contains(body, "invalid log kind") {
		t.Error("a bad kind is not explained")
	}
	resp, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/logs/lines?kind=runtime&after=2026-11-22T10:00:00Z")
	if resp.StatusCode != 200 || !strings.Contains(body, `"text":"listening on :8000 \u003cb\u003e"`) {
		t.Errorf("log lines: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, c, srv.URL+"/ui/stacks/shop/builds/b1/events?skip=1")
	if resp.StatusCode != 200 || strings.Contains(body, "build image") || !strings.Contains(body, "event: log\n") || !strings.Contains(body, "event: end") {
		t.Errorf("build events after 1: %d\n%s", resp.StatusCode, body)
	}
}

func TestFormsNeedCSRF(t *testing.T) {
	srv, svc, _ := newTestDashboard(t)
	c := browser(t)
	csrf := login(t, srv, c)
	approve := srv.URL + "/ui/stacks/shop/stages/prod/approve"
	for name, form := range map[string]url.Values{
		"missing": {"build": {"b1"}},
		"wrong":   {"build": {"b1"}, "csrf": {"x" + csrf}},
	} {
		if resp, _ := post(t, c, approve, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s CSRF token: status %d, want 403", name, resp.StatusCode)
		}
	}
	// Another browser's valid token is not this session's.
	other := browser(t)
	otherCSRF := login(t, srv, other)
	if resp, _ := post(t, c, approve, url.Values{"build": {"b1"}, "csrf": {otherCSRF}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token: %d", resp.StatusCode)
	}
	// No session at all.
	if resp, _ := post(t, browser(t), approve, url.Values{"build": {"b1"}, "csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no session: %d", resp.StatusCode)
	}
	if len(svc.approved) != 0 {
		t.Fatalf("a refused form reached the service: %v", svc.approved)
	}
	resp, _ := post(t, c, approve, url.Values{"build": {"b1"}, "csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || len(svc.approved) != 1 || svc.approved[0] != "shop/prod@b1" {
		t.Fatalf("approve: %d %v", resp.StatusCode, svc.approved)
	}
	if _, body := get(t, c, srv.URL+"/ui/stacks/shop"); !strings.Contains(body, "Approved: release r3 of build b1 serves stage prod.") {
		t.Error("no flash after approving")
	}
	post(t, c, srv.URL+"/ui/stacks/shop/stages/dev/rollback", url.Values{"to": {"r1"}, "csrf": {csrf}})
	if len(svc.rolledTo) != 1 || svc.rolledTo[0] != "shop/dev@r1" {
		t.Fatalf("rollback: %v", svc.rolledTo)
	}
	// Logout needs the token too, then ends the session for good.
	if resp, _ := post(t, c, srv.URL+"/ui/logout", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := post(t, c, srv.URL+"/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, srv.URL+"/ui/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to the login page", resp.StatusCode)
	}
}

func TestHistoryRollbackTargets(t *testing.T) {
	f := &fakeService{}
	rels, _ := f.Releases(context.Background(), "shop", "")
	rels = append(rels, core.Release{ID: "rp", Stage: "dev", Build: "bp", Status: core.ReleaseSuperseded})
	h := history(f.status(), rels, []core.Build{{ID: "bp", Pruned: true}})
	if len(h) != 2 || h[0].Stage != "dev" || h[1].Stage != "prod" || len(h[1].Releases) != 0 {
		t.Fatalf("history: %+v", h)
	}
	got := map[string]string{}
	for _, r := range h[0].Releases {
		got[r.ID] = r.Why
		if r.Rollback {
			got[r.ID] = "rollback"
		}
		if r.Current {
			got[r.ID] = "current"
		}
	}
	want := map[string]string{"r2": "current", "r1": "rollback", "r0": "never served", "rp": "image removed by retention"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
}

func TestOlderInstances(t *testing.T) {
	r2 := &core.Release{ID: "r2"}
	ins := func(rels ...string) []core.Instance {
		var out []core.Instance
		for _, r := range rels {
			out = append(out, core.Instance{Release: r})
		}
		return out
	}
	for _, tt := range []struct {
		name string
		sg   core.StageStatus
		want int
	}{
		{"no release", core.StageStatus{Instances: ins("r1")}, 0},
		{"all current", core.StageStatus{Release: r2, Instances: ins("r2", "r2")}, 0},
		{"a rollout", core.StageStatus{Release: r2, Instances: ins("r1", "r2", "r1")}, 2},
		{"unlabelled", core.StageStatus{Release: r2, Instances: ins("", "r2")}, 0},
	} {
		if got := olderInstances(tt.sg); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Time{
		"15m":                  t0.Add(-15 * time.Minute),
		"36h":                  t0.Add(-36 * time.Hour),
		"7d":                   t0.Add(-7 * 24 * time.Hour),
		"2026-11-01T08:00:00Z": time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, t0); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1x", "0", "-1h", "0d", "1.5d", "d", "yesterday"} {
		if got, err := parseSince(bad, t0); err == nil {
			t.Errorf("parseSince(%q) = %s, want an error", bad, got)
		}
	}
}

func TestSumSeries(t *testing.T) {
	a := ramp(t0, time.Minute, 1, 2)
	b := ramp(t0.In(time.FixedZone("X", 3600)), time.Minute, 10, 20, 30)
	got := sumSeries(func(yield func([]Point)) { yield(a); yield(b) })
	if len(got) != 3 || got[0].V != 11 || got[1].V != 22 || got[2].V != 30 {
		t.Fatalf("sumSeries = %v", got)
	}
}

func TestFillZeros(t *testing.T) {
	got := fillZeros([]Point{{T: t0.Add(2 * time.Minute), V: 7}}, t0, t0.Add(4*time.Minute), time.Minute)
	want := []float64{0, 0, 7, 0}
	if len(got) != len(want) {
		t.Fatalf("fillZeros = %v", got)
	}
	for i := range want {
		if got[i].V != want[i] || !got[i].T.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("fillZeros = %v, want values %v", got, want)
		}
	}
}

// runningService's build b9 is running: FollowBuild delivers what it has,
// then waits for more until its context ends, as a live job does.
type runningService struct {
	fakeService
	ended chan error // how the page's read ended
}

func (s *runningService) FollowBuild(ctx context.Context, stack, build string, fn func(core.Event) error) error {
	for _, ev := range []core.Event{{Type: core.EventStep, Message: "build b9"}, {Type: core.EventLog, Message: "compiling"}} {
		if err := fn(ev); err != nil {
			return err
		}
	}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return ctx.Err()
}

func (*runningService) Build(ctx context.Context, stack, id string) (core.Build, error) {
	return core.Build{ID: id, Stack: stack, Status: core.BuildRunning, StartedAt: t0}, nil
}

// TestRunningBuildPage: a running build's page shows the lines so far at
// once (it does not wait for the build), follows the rest over SSE, and
// reloads itself only when JS is off.
func TestRunningBuildPage(t *testing.T) {
	svc := &runningService{ended: make(chan error, 1)}
	d, err := New(Config{Service: svc, Token: testToken, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	c := browser(t)
	login(t, srv, c)
	resp, body := get(t, c, srv.URL+"/ui/stacks/shop/builds/b9")
	if resp.StatusCode != 200 {
		t.Fatalf("running build page: %d", resp.StatusCode)
	}
	// The page stopped reading once it had the lines there were, not by
	// its fallback deadline.
	if err := <-svc.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the page's read of the running build ended with %v, want it cancelled after the first lines", err)
	}
	for _, want := range []string{"build b9", "compiling", `data-events="/ui/stacks/shop/builds/b9/events?skip=2"`,
		`<noscript><meta http-equiv="refresh" content="3"></noscript>`, "running"} {
		if !strings.Contains(body, want) {
			t.Errorf("running build page lacks %q", want)
		}
	}
	if _, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/charts"); !strings.Contains(body, "no metrics store") || !strings.Contains(body, "no data in this range") {
		t.Error("charts without a metrics store do not say so")
	}
	if _, body := get(t, c, srv.URL+"/ui/stacks/shop/stages/dev/logs"); !strings.Contains(body, "keeps no logs") {
		t.Error("logs without a log store do not say so")
	}
}
