package integration

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/cost"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/traffic"
)

// TestCostCLI deploys the fixture (dev: container + gateway, prod: the
// balancer) and checks what slipway deploy and slipway cost say against
// the estimator itself, then estimates from metered traffic.
func TestCostCLI(t *testing.T) {
	s := startServer(t)
	const yml = "stages:\n  - name: dev\n    scale: {min: 1, max: 1}\n  - name: prod\n    scale: {min: 2, max: 3, cpu: 0.5, memory: 1024}\n    endpoint: {kind: balancer}\n"
	app := fixtureApp(t, "costly", yml)
	spec, err := manifest.Parse("slipway.yml", []byte("name: costly\nport: 8000\n"+yml))
	if err != nil {
		t.Fatal(err)
	}

	// Before the first release, deploy prints each stage's estimate.
	r := s.mustRun(app, "deploy")
	current, err := cost.LoadTable("")
	if err != nil {
		t.Fatal(err)
	}
	defaults, _, _ := traffic.FromFlags(traffic.Flags{})
	head := fmt.Sprintf("==> Estimated AWS cost (%s, assuming 1M requests/month at 100 ms", current.Name)
	i := strings.Index(r.stderr, head)
	if i < 0 || i > strings.Index(r.stderr, "build b1") {
		t.Fatalf("deploy does not print the estimate before the build:\n%s", r.stderr)
	}
	total := 0.0
	for _, name := range []string{"dev", "prod"} {
		sg, _ := spec.Stage(name)
		e := cost.EstimateStage(current, cost.StageFromSpec(spec.Architecture, sg), defaults)
		total += e.Total
		line := fmt.Sprintf(`(?m)^    %s +%s \+ %s +\$%s/month$`, name, e.Stage.Architecture, e.Stage.Endpoint, strings.ReplaceAll(moneyText(e.Total), ".", `\.`))
		if !costMatches(line, r.stderr) {
			t.Errorf("deploy's estimate lacks a line like %s:\n%s", line, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "total") || !strings.Contains(r.stderr, "$"+moneyText(total)+"/month") {
		t.Errorf("deploy's estimate lacks the total $%s:\n%s", moneyText(total), r.stderr)
	}
	waitServing(t, s, "costly", 1, 60*time.Second)
	if r := s.mustRun(app, "deploy", "-q"); strings.Contains(r.stderr, "Estimated AWS cost") {
		t.Errorf("deploy -q prints the estimate:\n%s", r.stderr)
	}

	// slipway cost -o json: the estimator's figures for the stage's config and the profile.
	r = s.mustRun(app, "cost", "costly", "prod", "--requests", "10M", "--duration", "120ms", "--table", "us-east-1-2021-07", "-o", "json")
	var got traffic.StageCost
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("cost -o json: %v\n%s", err, r.stdout)
	}
	old, _ := cost.LoadTable("us-east-1-2021-07")
	prod, _ := spec.Stage("prod")
	profile, _, _ := traffic.FromFlags(traffic.Flags{Requests: "10M", Duration: "120ms"})
	want := cost.EstimateStage(old, cost.StageFromSpec(core.ArchContainer, prod), profile)
	if a, b := jsonOf(t, got.Estimate), jsonOf(t, want); a != b {
		t.Errorf("slipway cost's estimate differs from cost.EstimateStage:\n got %s\nwant %s", a, b)
	}
	if got.Estimate.Stage.Endpoint != "balancer" || got.Estimate.Stage.MinInstances != 2 || got.Estimate.Stage.CPU != 0.5 || len(got.Estimate.Items) == 0 || got.Estimate.Total <= 0 {
		t.Errorf("estimate of prod: %+v", got.Estimate)
	}
	r = s.mustRun(app, "cost", "costly", "prod", "--requests", "10M", "--duration", "120ms", "--table", "us-east-1-2021-07")
	for _, item := range want.Items {
		if !strings.Contains(r.stdout, item.Arithmetic) {
			t.Errorf("the table lacks the arithmetic %q:\n%s", item.Arithmetic, r.stdout)
		}
	}
	if !costMatches(`(?m)^TOTAL +\$`+strings.ReplaceAll(moneyText(want.Total), ".", `\.`), r.stdout) {
		t.Errorf("the table lacks the total $%s:\n%s", moneyText(want.Total), r.stdout)
	}

	// --compare: four options, crossovers, a recommendation.
	r = s.mustRun(app, "cost", "costly", "--compare", "--requests", "5M")
	for _, w := range []string{"container     gateway", "container     balancer", "serverless    gateway", "serverless    balancer", "cheapest", "Crossovers", "Recommendation: "} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("--compare lacks %q:\n%s", w, r.stdout)
		}
	}
	r = s.mustRun(app, "cost", "costly", "--compare", "--requests", "5M", "-o", "json")
	var cmp traffic.StageComparison
	json.Unmarshal([]byte(r.stdout), &cmp)
	dev, _ := spec.Stage("dev")
	p5, _, _ := traffic.FromFlags(traffic.Flags{Requests: "5M"})
	if a, b := jsonOf(t, cmp.Comparison), jsonOf(t, cost.Compare(current, cost.StageFromSpec(core.ArchContainer, dev), p5)); a != b || cmp.Stage != "dev" || len(cmp.Comparison.Options) != 4 {
		t.Errorf("--compare -o json differs from cost.Compare for dev:\n got %s\nwant %s", a, b)
	}

	// --plot: a valid SVG with the four lines.
	out := filepath.Join(t.TempDir(), "out.svg")
	s.mustRun(app, "cost", "costly", "--plot", out)
	checkPlot(t, out)
	out2 := filepath.Join(t.TempDir(), "default.svg")
	s.mustRun(t.TempDir(), "cost", "--plot", out2, "--requests", "3M")
	checkPlot(t, out2)

	r = s.mustRun(app, "cost", "--tables", "-o", "json")
	var tables []traffic.TableInfo
	json.Unmarshal([]byte(r.stdout), &tables)
	if len(tables) != len(cost.Tables()) || tables[0].Name != cost.Tables()[0] {
		t.Errorf("cost --tables: %s", r.stdout)
	}

	// Bad input: one clear line, exit 1.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cost", "costly", "qa"}, `stack costly has no stage "qa": its stages are dev, prod`},
		{[]string{"cost", "nope", "dev"}, `nope`},
		{[]string{"cost", "costly", "dev", "--requests", "lots"}, `invalid requests "lots": use a count like 10M`},
		{[]string{"cost", "costly", "dev", "--duration", "0ms"}, `invalid duration "0ms": it must be more than 0 and at most 15m`},
		{[]string{"cost", "costly", "dev", "--table", "eu-west-1"}, `us-east-1-2021-07`},
		{[]string{"cost", "costly", "dev", "--from-usage", "soon"}, `invalid usage window "soon"`},
		{[]string{"cost", "costly", "dev", "--from-usage", "1h", "--requests", "1M"}, `not both`},
		{[]string{"cost"}, `cost needs a stack`},
	} {
		r := s.run(app, tc.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], tc.want) {
			t.Errorf("slipway %s: exit %d, stderr %q; want one line saying %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}

	// --from-usage: a stage without traffic says so; after traffic, the
	// estimate extrapolates what was metered.
	if r := s.run(app, "cost", "costly", "prod", "--from-usage", "1h"); r.code != 1 || !strings.Contains(r.stderr, "no requests metered in the last 1h") {
		t.Errorf("prod without traffic: exit %d %s", r.code, r.stderr)
	}
	const sent = 40
	for range sent {
		if code, body, _ := s.gw("GET", "dev.costly.localhost", "/ping", ""); code != 200 {
			t.Fatalf("GET /ping: %d %s", code, body)
		}
	}
	var usage traffic.StageCost
	eventually(t, 45*time.Second, "the metered requests in --from-usage", func() error {
		r := s.run(app, "cost", "costly", "dev", "--from-usage", "1h", "-o", "json")
		if r.code != 0 {
			return fmt.Errorf("exit %d: %s", r.code, r.stderr)
		}
		usage = traffic.StageCost{}
		if err := json.Unmarshal([]byte(r.stdout), &usage); err != nil {
			return err
		}
		if n := usage.Estimate.Profile.RequestsPerMonth / 720; n < sent {
			return fmt.Errorf("%v requests metered in the hour", n)
		}
		return nil
	})
	p := usage.Estimate.Profile
	if n := p.RequestsPerMonth / 720; n != math.Round(n) || usage.Source != "usage" || usage.Window != "1h" {
		t.Errorf("usage answer: %+v", usage)
	}
	if p.ResponseBytes != 4 || p.DurationMS <= 0 { // "pong"
		t.Errorf("usage profile: response %v bytes, duration %v ms", p.ResponseBytes, p.DurationMS)
	}
	if len(usage.Notes) == 0 || !strings.HasPrefix(usage.Notes[0], "from 1h of metered usage: ") || !strings.Contains(usage.Notes[0], "extrapolated × 720 to 30 days") {
		t.Errorf("usage notes: %q", usage.Notes)
	}
	// The answer's profile has the rates the estimator derived filled in:
	// pricing it again gives the same items and total (the assumptions no
	// longer say how the rates were derived).
	again := cost.EstimateStage(current, cost.StageFromSpec(core.ArchContainer, dev), p)
	if a, b := jsonOf(t, []any{usage.Estimate.Items, usage.Estimate.Total}), jsonOf(t, []any{again.Items, again.Total}); a != b {
		t.Errorf("the usage estimate differs from cost.EstimateStage for its profile:\n got %s\nwant %s", a, b)
	}
	r = s.mustRun(app, "cost", "costly", "dev", "--from-usage", "1h")
	if !strings.Contains(r.stdout, "(metered over the last 1h, extrapolated to 30 days)") {
		t.Errorf("the usage table does not say its window:\n%s", r.stdout)
	}

	// The dashboard's cost page: the default profile, the last 24 h, the chart.
	page := dashboardPage(t, s, "/ui/stacks/costly/stages/dev/cost")
	for _, w := range []string{"Default profile", "Last 24 hours, extrapolated to 30 days", "mean response 4 B over the last", `<svg class="chart cost"`, "$" + moneyText(cost.EstimateStage(current, cost.StageFromSpec(core.ArchContainer, dev), defaults).Total)} {
		if !strings.Contains(page, w) {
			t.Errorf("the dashboard's cost page lacks %q", w)
		}
	}
	if n := strings.Count(page, `<path class="series`); n != 4 {
		t.Errorf("the dashboard's cost chart has %d lines", n)
	}
	if page := dashboardPage(t, s, "/ui/stacks/costly/stages/prod/cost"); !strings.Contains(page, "No requests in the last 24 hours.") {
		t.Error("the cost page of prod (no traffic) does not say so")
	}
}

func checkPlot(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	paths := 0
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
	if root != "svg" || paths != 4 {
		t.Errorf("%s: root <%s>, %d paths; want <svg> with 4", path, root, paths)
	}
	for _, name := range traffic.OptionOrder {
		if !bytes.Contains(data, []byte(name)) {
			t.Errorf("%s has no legend for %s", path, name)
		}
	}
}

// dashboardPage logs in to the dashboard with the admin token and returns
// a page's HTML.
func dashboardPage(t *testing.T, s *server, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.PostForm(s.api+"/ui/login", url.Values{"token": {s.token}, "next": {path}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Request.URL.Path != path {
		t.Fatalf("log in and open %s: %d at %s\n%s", path, resp.StatusCode, resp.Request.URL, body)
	}
	return string(body)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// moneyText is the CLI's dollars: 1,234.50.
func moneyText(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	whole, cents, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(whole[i])
	}
	return b.String() + "." + cents
}

func costMatches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestCostDashboardInBrowser opens a stage's cost page in chromium before
// the stage has traffic: the default profile's line items and the
// comparison chart with its four lines.
func TestCostDashboardInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := startServer(t)
	s.mustRun(fixtureApp(t, "costweb", "stages:\n  - name: dev\n    scale: {min: 1, max: 1}\n"), "deploy", "-q")
	page := "/ui/stacks/costweb/stages/dev/cost"
	do(t, ctx, "log in to the cost page",
		chromedp.Navigate(s.api+"/ui/login?next="+url.QueryEscape(page)), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(".cost-estimate")))
	if total := text(t, ctx, ".cost-estimate .total"); !strings.HasPrefix(total, "$") {
		t.Errorf("the estimate's total reads %q", total)
	}
	if n := count(t, ctx, ".cost-estimate table.items tbody tr"); n < 3 {
		t.Errorf("%d line items", n)
	}
	if n := count(t, ctx, "svg.chart.cost path.series"); n != 4 {
		t.Errorf("the chart draws %d lines, want 4", n)
	}
	if n := count(t, ctx, "table.options tbody tr"); n != 4 {
		t.Errorf("%d options compared, want 4", n)
	}
	if text(t, ctx, ".no-usage") == "" || text(t, ctx, ".recommendation") == "" {
		t.Error("no word on the missing usage or no recommendation")
	}
	shoot(t, ctx, "15-cost")
}
