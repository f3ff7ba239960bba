package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/slipwayhq/slipway/internal/core"
)

// Config configures a Remote.
type Config struct {
	// Dir holds the bare repositories, one per stack: <Dir>/<stack>.git.
	Dir string
	// Token checks a basic-auth password (the user name is ignored, like
	// GitHub tokens). It should compare in constant time. Nil denies all.
	Token func(password string) bool
	// OnPush is called after a push, once per changed ref, outside the
	// repository's lock but before the pushing client sees the request
	// end, so it should only record or enqueue. May be nil.
	OnPush func(Push)
	Logger *slog.Logger
}

// Remote is the built-in git remote: one bare repository per stack, served
// over smart HTTP by `git http-backend`.
type Remote struct {
	dir    string
	git    string // absolute path of the git binary
	token  func(string) bool
	onPush func(Push)
	log    *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per stack; serializes pushes, Ensure, Remove
}

// New checks that git is installed and prepares cfg.Dir.
func New(cfg Config) (*Remote, error) {
	if cfg.Dir == "" {
		return nil, core.Errorf(core.CodeInvalid, "git remote: no repository directory given")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, core.Wrap(core.CodeInternal, err, "git remote: resolve %s: %v", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, core.Wrap(core.CodeInternal, err, "git remote: create %s: %v", dir, err)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, core.Wrap(core.CodeUnavailable, err, "git remote: git is not installed (it serves pushes with `git http-backend`)")
	}
	if git, err = filepath.Abs(git); err != nil {
		return nil, core.Wrap(core.CodeInternal, err, "git remote: resolve git path: %v", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Remote{
		dir:    dir,
		git:    git,
		token:  cfg.Token,
		onPush: cfg.OnPush,
		log:    logger.With("component", "source"),
		locks:  map[string]*sync.Mutex{},
	}, nil
}

// Ensure creates the stack's bare repository if it is missing.
func (r *Remote) Ensure(stack string) error {
	path, err := r.repoPath(stack)
	if err != nil {
		return err
	}
	l := r.lock(stack)
	l.Lock()
	defer l.Unlock()
	if isRepo(path) {
		return nil
	}
	// Build the repository beside its final name and rename it into place,
	// so the handler never serves a half-initialized one. The temporary
	// name starts with '.', which no stack name can.
	tmp, err := os.MkdirTemp(r.dir, ".init-"+stack+"-")
	if err != nil {
		return core.Wrap(core.CodeInternal, err, "create git repository for stack %q: %v", stack, err)
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	steps := [][]string{
		{"init", "--bare", "--quiet", "--initial-branch=main", tmp},
		{"--git-dir", tmp, "config", "receive.denyNonFastForwards", "false"},
		{"--git-dir", tmp, "config", "http.receivepack", "true"},
	}
	for _, args := range steps {
		if err := r.run(ctx, nil, args...); err != nil {
			return core.Wrap(core.CodeInternal, err, "create git repository for stack %q: %v", stack, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return core.Wrap(core.CodeInternal, err, "create git repository for stack %q: %v", stack, err)
	}
	r.log.Info("git repository created", "stack", stack)
	return nil
}

// Remove deletes the stack's repository; removing a missing one is not an
// error.
func (r *Remote) Remove(stack string) error {
	path, err := r.repoPath(stack)
	if err != nil {
		return err
	}
	l := r.lock(stack)
	l.Lock()
	defer l.Unlock()
	if err := os.RemoveAll(path); err != nil {
		return core.Wrap(core.CodeInternal, err, "remove git repository of stack %q: %v", stack, err)
	}
	return nil
}

// Resolve turns rev (a branch, tag or commit sha, or anything else
// git rev-parse accepts) into a full commit sha.
func (r *Remote) Resolve(ctx context.Context, stack, rev string) (string, error) {
	path, err := r.existingRepo(stack)
	if err != nil {
		return "", err
	}
	// A leading '-' would be read as an option; NUL and newlines cannot be
	// part of a ref name.
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, "\x00\n") {
		return "", core.Errorf(core.CodeInvalid, "invalid git revision %q", rev)
	}
	var out bytes.Buffer
	err = r.run(ctx, &out, "--git-dir", path, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 && ctx.Err() == nil {
			return "", core.Errorf(core.CodeNotFound, "stack %q has no commit %q: push it first", stack, rev)
		}
		return "", core.Wrap(core.CodeInternal, err, "resolve %q in stack %q: %v", rev, stack, err)
	}
	sha := strings.TrimSpace(out.String())
	if !isHex(sha) {
		return "", core.Errorf(core.CodeInternal, "resolve %q in stack %q: unexpected git output %q", rev, stack, sha)
	}
	return sha, nil
}

// Archive writes the tree of commit as an uncompressed tar to w. Like any
// `git archive` of a commit, the stream starts with a pax global header
// holding the commit id, and every entry carries the commit's time.
func (r *Remote) Archive(ctx context.Context, stack, commit string, w io.Writer) error {
	sha, err := r.Resolve(ctx, stack, commit)
	if err != nil {
		return err
	}
	path, err := r.existingRepo(stack)
	if err != nil {
		return err
	}
	if err := r.run(ctx, w, "--git-dir", path, "archive", "--format=tar", sha); err != nil {
		return core.Wrap(core.CodeInternal, err, "archive %s of stack %q: %v", short(sha), stack, err)
	}
	return nil
}

// repoPath validates stack and returns where its repository lives. Only a
// valid stack name ever becomes a path, which is what keeps requests and
// callers inside Dir.
func (r *Remote) repoPath(stack string) (string, error) {
	if err := core.ValidateStackName(stack); err != nil {
		return "", err
	}
	return filepath.Join(r.dir, stack+".git"), nil
}

// existingRepo is repoPath for a repository that must already exist.
func (r *Remote) existingRepo(stack string) (string, error) {
	path, err := r.repoPath(stack)
	if err != nil {
		return "", err
	}
	if !isRepo(path) {
		return "", core.Errorf(core.CodeNotFound, "stack %q has no git repository", stack)
	}
	return path, nil
}

func (r *Remote) lock(stack string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.locks[stack]
	if l == nil {
		l = new(sync.Mutex)
		r.locks[stack] = l
	}
	return l
}

// refs snapshots every ref of the repository at path.
func (r *Remote) refs(ctx context.Context, path string) (refSet, error) {
	var out bytes.Buffer
	if err := r.run(ctx, &out, "--git-dir", path, "for-each-ref", "--format="+refFormat); err != nil {
		return nil, err
	}
	return parseRefs(out.String())
}

// run runs git with args in a clean environment, writing its output to
// stdout (which may be nil). The error carries git's first stderr line.
func (r *Remote) run(ctx context.Context, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, r.git, args...)
	cmd.Dir = r.dir
	cmd.Env = gitEnv()
	cmd.Stdout = stdout
	stderr := &cappedBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if msg := stderr.firstLine(); msg != "" {
			return &gitError{msg: msg, err: err}
		}
		return err
	}
	return nil
}

// gitEnv is the whole environment our git subprocesses get: the server's
// own may hold GIT_DIR, GIT_INDEX_FILE or credentials that must not leak.
func gitEnv() []string {
	// Never prompt: a fetch of a private repository without credentials
	// must fail at once, not wait on the server's terminal.
	env := []string{"PATH=" + os.Getenv("PATH"), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true"}
	if home := os.Getenv("HOME"); home != "" {
		env = append(env, "HOME="+home)
	}
	return env
}

type gitError struct {
	msg string
	err error
}

func (e *gitError) Error() string { return e.msg }
func (e *gitError) Unwrap() error { return e.err }

func isRepo(path string) bool {
	fi, err := os.Stat(filepath.Join(path, "HEAD"))
	return err == nil && fi.Mode().IsRegular()
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// cappedBuffer keeps the first max bytes written to it and drops the rest,
// so a chatty subprocess cannot grow memory.
type cappedBuffer struct {
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return strings.TrimSpace(b.buf.String()) }

func (b *cappedBuffer) firstLine() string {
	line, _, _ := strings.Cut(b.String(), "\n")
	return strings.TrimSpace(line)
}
