package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/api/status"
	"github.com/slipwayhq/slipway/internal/core"
)

// Service is what the dashboard needs of the use cases (service.Service):
// the same calls the /v1 API and so the CLI make.
type Service interface {
	List(ctx context.Context) ([]core.StackStatus, error)
	Status(ctx context.Context, name string) (core.StackStatus, error)
	Builds(ctx context.Context, stack string) ([]core.Build, error)
	Build(ctx context.Context, stack, id string) (core.Build, error)
	FollowBuild(ctx context.Context, stack, build string, fn func(core.Event) error) error
	Releases(ctx context.Context, stack, stage string) ([]core.Release, error)
	Approve(ctx context.Context, stack, stage, expect string, emit func(core.Event)) (core.Release, error)
	Rollback(ctx context.Context, stack, stage, to string, emit func(core.Event)) (core.Release, error)
}

// Metrics reads a stage's stored time series (the metrics store): the
// points of one metric of the stage as a whole in [from, to), oldest
// first, re-aggregated to step. Metric names are the store's (requests,
// status_4xx, p99_latency_ms, cpu_percent, ...).
type Metrics interface {
	Series(stack, stage, metric string, from, to time.Time, step time.Duration) []Point
}

// LogQuery selects log lines of one stage and kind.
type LogQuery struct {
	Stack, Stage string
	Kind         string    // runtime, build, release or access
	Since        time.Time // only lines strictly after this
	Grep         string    // only lines containing this text
	Limit        int       // at most this many, the newest
}

// LogLine is one stored log line.
type LogLine struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance,omitempty"`
	Text     string    `json:"text"`
}

// Logs reads a stage's stored logs (the log store), oldest first.
// Following is reading again with Since set to the last line's time.
type Logs interface {
	ReadLogs(ctx context.Context, q LogQuery) ([]LogLine, error)
}

// LogKinds are the kinds of log the viewer offers.
var LogKinds = []string{"runtime", "build", "release", "access"}

// Config wires the dashboard.
type Config struct {
	Service Service
	Metrics Metrics // nil: charts say there is no metrics store
	Logs    Logs    // nil: the log viewer says there is no log store
	Token   string  // the admin token, the only login
	Logger  *slog.Logger
	Now     func() time.Time // clock; time.Now if nil
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Dashboard is the /ui/ handler (and the redirect of / to it).
type Dashboard struct {
	cfg       Config
	tokenHash [32]byte
	sessions  *sessions
	log       *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
	now       func() time.Time
}

// New returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Token == "" {
		return nil, errors.New("web: the dashboard needs the admin token")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	d := &Dashboard{cfg: cfg, tokenHash: sha256.Sum256([]byte(cfg.Token)), sessions: newSessions(now),
		log: cfg.Logger.With("component", "web"), mux: http.NewServeMux(), now: now}
	if err := d.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	d.mux.HandleFunc("GET /ui/login", d.loginPage)
	d.mux.HandleFunc("POST /ui/login", d.login)
	d.mux.Handle("POST /ui/logout", d.form(d.logout))
	d.mux.Handle("GET /ui/{$}", d.page(d.overview))
	d.mux.Handle("GET /ui/stacks/{stack}", d.page(d.stack))
	d.mux.Handle("POST /ui/stacks/{stack}/stages/{stage}/approve", d.form(d.approve))
	d.mux.Handle("POST /ui/stacks/{stack}/stages/{stage}/rollback", d.form(d.rollback))
	d.mux.Handle("GET /ui/stacks/{stack}/builds", d.page(d.builds))
	d.mux.Handle("GET /ui/stacks/{stack}/builds/{build}", d.page(d.build))
	d.mux.Handle("GET /ui/stacks/{stack}/builds/{build}/events", d.data(d.buildEvents))
	d.mux.Handle("GET /ui/stacks/{stack}/stages/{stage}/charts", d.page(d.charts))
	d.mux.Handle("GET /ui/stacks/{stack}/stages/{stage}/cost", d.page(d.cost))
	d.mux.Handle("GET /ui/stacks/{stack}/stages/{stage}/logs", d.page(d.logs))
	d.mux.Handle("GET /ui/stacks/{stack}/stages/{stage}/logs/lines", d.data(d.logLines))
	d.mux.Handle("/ui/", d.page(func(w http.ResponseWriter, r *http.Request, ss *session) error {
		return core.Errorf(core.CodeNotFound, "no page %s", r.URL.Path)
	}))
	return d, nil
}

// ServeHTTP sets the security headers every answer carries, then routes.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	d.mux.ServeHTTP(w, r)
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, ss *session) error

// page serves a page to a logged-in browser; others are sent to the login
// page, coming back here after.
func (d *Dashboard) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := d.current(r)
		if ss == nil {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err := h(w, r, ss); err != nil {
			d.errorPage(w, r, ss, err)
		}
	})
}

// form handles a state-changing POST: it needs a session and that
// session's CSRF token in the form, and a same-origin Origin if the
// browser sent one; otherwise 403.
func (d *Dashboard) form(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		ss := d.current(r)
		if ss == nil || !sameOrigin(r) || !validCSRF(ss, r.PostFormValue("csrf")) {
			d.log.Warn("refused a dashboard form without a valid session and CSRF token", "path", r.URL.Path, "session", ss != nil)
			http.Error(w, "403 forbidden: this form needs a logged-in session and its CSRF token; reload the page and try again", http.StatusForbidden)
			return
		}
		if err := h(w, r, ss); err != nil {
			d.errorPage(w, r, ss, err)
		}
	})
}

// data serves what the page's script fetches: 401 without a session
// (a script cannot follow a redirect to the login form).
func (d *Dashboard) data(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := d.current(r)
		if ss == nil {
			http.Error(w, "401 unauthorized: log in at /ui/login", http.StatusUnauthorized)
			return
		}
		if err := h(w, r, ss); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	})
}

func (d *Dashboard) current(r *http.Request) *session {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	return d.sessions.Get(c.Value)
}

// sameOrigin rejects cross-site form posts by their Origin header (older
// browsers send none; SameSite=Strict and the CSRF token cover them).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// view is what every page template gets.
type view struct {
	Title   string
	CSRF    string
	Flash   string
	FlashOK bool
	Stack   string // the stack the page is about, for the navigation
	Refresh int    // seconds: reload the page when JS is off (0: never)
	Data    any
}

func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, ss *session, status int, name string, v view) error {
	t := d.pages[name]
	if t == nil {
		return fmt.Errorf("no template %s", name)
	}
	if ss != nil {
		v.CSRF = ss.csrf
		v.Flash, v.FlashOK = d.sessions.TakeFlash(ss.id)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (d *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	status := statusOf(err)
	if status >= 500 {
		d.log.Error("dashboard page failed", "path", r.URL.Path, "err", err)
	}
	if rerr := d.render(w, r, ss, status, "error.html", view{Title: http.StatusText(status), Data: err.Error()}); rerr != nil {
		http.Error(w, err.Error(), status)
	}
}

// statusOf is the HTTP status of a page's error, as the API answers it.
func statusOf(err error) int { return status.OfError(err) }

// flash keeps a message for the next page and sends the browser there.
func (d *Dashboard) flash(w http.ResponseWriter, r *http.Request, ss *session, to, msg string, ok bool) error {
	d.sessions.SetFlash(ss.id, msg, ok)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func (d *Dashboard) parseTemplates() error {
	funcs := template.FuncMap{
		"ago":   func(t time.Time) string { return ago(d.now(), t) },
		"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"svg":   func(s string) template.HTML { return template.HTML(s) }, // only our own DrawChart/DrawSparkline output
		"short": shortDigest,
		"took":  took,
		"path":  url.PathEscape,
		"money": func(v float64) string { return "$" + formatMoney(v) },
		"older": olderInstances,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	d.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("parse %s: %w", n, err)
		}
		d.pages[base] = t
	}
	return nil
}

// ago says how long before now t was, briefly: 5s, 3m, 2h, 4d.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// took is how long a build ran, or "" while it runs.
func took(start time.Time, end *time.Time) string {
	if end == nil || start.IsZero() {
		return ""
	}
	return end.Sub(start).Round(100 * time.Millisecond).String()
}

func shortDigest(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
