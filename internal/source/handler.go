package source

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// Prefix is where Handler expects to be mounted on the API listener.
const Prefix = "/git/"

// The smart-HTTP endpoints of a repository; nothing else (the dumb
// protocol's object files, say) is served.
const (
	infoRefs    = "info/refs"
	uploadPack  = "git-upload-pack"
	receivePack = "git-receive-pack"
)

// Handler serves the smart-HTTP git protocol at
// /git/<stack>.git/{info/refs,git-upload-pack,git-receive-pack} (the ".git"
// is optional, as on GitHub). Every request needs basic auth whose password
// passes Config.Token.
func (r *Remote) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

func (r *Remote) serveHTTP(w http.ResponseWriter, req *http.Request) {
	stack, endpoint, ok := parseRoute(req.URL.Path)
	if !ok {
		http.Error(w, "not a git endpoint: the remote URL is <server>/git/<stack>.git", http.StatusNotFound)
		return
	}
	// Authenticate before looking at the stack, so stack names cannot be
	// probed without a token.
	user, password, ok := req.BasicAuth()
	if !ok || password == "" || r.token == nil || !r.token(password) {
		if ok {
			r.log.Warn("git request with a wrong token", "stack", stack, "remote", req.RemoteAddr)
		}
		// Without the challenge the stock git client would not retry with
		// the URL's credentials or ask its credential helper.
		w.Header().Set("WWW-Authenticate", `Basic realm="slipway"`)
		http.Error(w, "authentication required: use a Slipway API token as the password", http.StatusUnauthorized)
		return
	}
	if err := core.ValidateStackName(stack); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if msg, status := checkMethod(req, endpoint); status != 0 {
		http.Error(w, msg, status)
		return
	}
	if _, err := r.existingRepo(stack); err != nil {
		http.Error(w, fmt.Sprintf("unknown stack %q: it has no git remote on this server", stack), http.StatusNotFound)
		return
	}
	if endpoint == receivePack {
		r.serveReceivePack(w, req, stack, user, endpoint)
		return
	}
	r.serveBackend(w, req, stack, user, endpoint)
}

// parseRoute splits /git/<stack>[.git]/<endpoint>. The stack is returned
// unvalidated.
func parseRoute(path string) (stack, endpoint string, ok bool) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return "", "", false
	}
	repo, endpoint, ok := strings.Cut(rest, "/")
	if !ok || repo == "" {
		return "", "", false
	}
	switch endpoint {
	case infoRefs, uploadPack, receivePack:
		return strings.TrimSuffix(repo, ".git"), endpoint, true
	}
	return "", "", false
}

// checkMethod returns a message and status for a request the smart
// protocol never makes, or status 0.
func checkMethod(req *http.Request, endpoint string) (string, int) {
	if endpoint == infoRefs {
		if req.Method != http.MethodGet {
			return "method not allowed", http.StatusMethodNotAllowed
		}
		switch req.URL.Query().Get("service") {
		case uploadPack, receivePack:
			return "", 0
		}
		return "only the smart HTTP git protocol is supported (git 1.6.6 or later)", http.StatusForbidden
	}
	if req.Method != http.MethodPost {
		return "method not allowed", http.StatusMethodNotAllowed
	}
	return "", 0
}

// serveReceivePack runs a push and reports the refs it changed, after the
// repository's lock is released.
func (r *Remote) serveReceivePack(w http.ResponseWriter, req *http.Request, stack, user, endpoint string) {
	for _, p := range r.receive(w, req, stack, user, endpoint) {
		r.log.Info("git push", "stack", stack, "ref", p.Ref, "old", short(p.Old), "new", short(p.New))
		if r.onPush != nil {
			r.onPush(p)
		}
	}
}

// receive runs receive-pack between two ref snapshots. The lock spans the
// whole request so the snapshots of concurrent pushes cannot interleave:
// each change is seen by exactly one diff.
func (r *Remote) receive(w http.ResponseWriter, req *http.Request, stack, user, endpoint string) []Push {
	path, _ := r.repoPath(stack)
	// The snapshots are taken even if the client hangs up mid-request:
	// receive-pack may have updated refs by then.
	ctx := context.WithoutCancel(req.Context())
	l := r.lock(stack)
	l.Lock()
	defer l.Unlock()
	before, err := r.refs(ctx, path)
	if err != nil {
		r.log.Error("read refs before push", "stack", stack, "err", err)
		http.Error(w, "cannot read the repository's refs", http.StatusInternalServerError)
		return nil
	}
	r.serveBackend(w, req, stack, user, endpoint)
	after, err := r.refs(ctx, path)
	if err != nil {
		r.log.Error("read refs after push; its changes are not reported", "stack", stack, "err", err)
		return nil
	}
	return diffRefs(stack, before, after)
}

// serveBackend hands the request to `git http-backend` as a CGI script.
func (r *Remote) serveBackend(w http.ResponseWriter, req *http.Request, stack, user, endpoint string) {
	req = req.Clone(req.Context())
	// The token must not reach the CGI environment (HTTP_AUTHORIZATION),
	// where any process of the same user could read it.
	req.Header.Del("Authorization")
	// net/http/cgi refuses chunked request bodies, and git sends every
	// request larger than http.postBuffer (1 MiB) chunked. net/http has
	// already de-chunked the body; without a Content-Length, cgi leaves
	// CONTENT_LENGTH unset and http-backend reads stdin to EOF, so the
	// pack streams through instead of being refused or buffered.
	req.TransferEncoding = nil

	stderr := &cappedBuffer{max: 8 << 10}
	h := &cgi.Handler{
		Path: r.git,
		Args: []string{"http-backend"},
		Dir:  r.dir,
		// cgi adds PATH, the request's CGI variables and its HTTP_*
		// headers (HTTP_GIT_PROTOCOL selects protocol v2); nothing else of
		// the server's environment is passed.
		InheritEnv: []string{"HOME"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + r.dir,
			"GIT_HTTP_EXPORT_ALL=1",
			// http-backend enables receive-pack for an authenticated user
			// and names them in the reflog.
			"REMOTE_USER=" + remoteUser(user),
			// Computed from the validated route, never from the raw URL.
			"PATH_INFO=/" + stack + ".git/" + endpoint,
		},
		Logger: slog.NewLogLogger(r.log.Handler(), slog.LevelError),
		Stderr: stderr,
	}
	h.ServeHTTP(w, req)
	// cgi waits for the process, so stderr is complete here.
	if msg := stderr.String(); msg != "" {
		r.log.Warn("git http-backend", "stack", stack, "endpoint", endpoint, "stderr", msg)
	}
}

// remoteUser returns the basic-auth user name if it is a plain one (it
// lands in an environment variable and the reflog), else "git".
func remoteUser(name string) string {
	if name == "" || len(name) > 64 {
		return "git"
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._@+-", c)
		if !ok {
			return "git"
		}
	}
	return name
}
