package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// Fetch brings branch from an external repository into the stack's own
// (forcing it: the external repository is the truth for a stack that
// watches one) and returns the branch's commit before and after, so the
// caller can tell whether there is something new to deploy.
func (r *Remote) Fetch(ctx context.Context, stack, url, branch string) (before, after string, err error) {
	if url == "" || strings.HasPrefix(url, "-") || strings.ContainsAny(branch, " \t\n:~^?*[\\") || strings.HasPrefix(branch, "-") {
		return "", "", core.Errorf(core.CodeInvalid, "bad repository %q or branch %q", url, branch)
	}
	path, err := r.existingRepo(stack)
	if err != nil {
		return "", "", err
	}
	l := r.lock(stack)
	l.Lock()
	defer l.Unlock()
	ref := "refs/heads/" + branch
	before = r.tip(ctx, path, ref)
	if err := r.run(ctx, nil, "--git-dir", path, "fetch", "--quiet", "--no-tags", "--", url, "+"+ref+":"+ref); err != nil {
		msg := strings.ReplaceAll(err.Error(), url, redact(url)) // git may echo the URL, credentials included
		return before, before, core.Errorf(core.CodeUnavailable, "fetch %s of %s: %s", branch, redact(url), msg)
	}
	return before, r.tip(ctx, path, ref), nil
}

// tip is a ref's commit, or "" if it does not exist.
func (r *Remote) tip(ctx context.Context, path, ref string) string {
	var out bytes.Buffer
	if err := r.run(ctx, &out, "--git-dir", path, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return ""
	}
	return strings.TrimSpace(out.String())
}

// redact hides credentials in a repository URL for messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "@"); j >= 0 {
			return url[:i+3] + "****@" + url[i+3+j+1:]
		}
	}
	return url
}

// Checkout makes dir, which already holds the commit's files (from
// Archive), a git work tree at that commit, so a buildspec can run git
// (`git rev-parse HEAD`, as TinyStacks' build.yml does). Objects are
// shared with the stack's repository, not copied.
func (r *Remote) Checkout(ctx context.Context, stack, commit, dir string) error {
	path, err := r.existingRepo(stack)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".slipway-clone")
	defer os.RemoveAll(tmp)
	if err := r.run(ctx, nil, "clone", "--quiet", "--no-checkout", "--shared", path, tmp); err != nil {
		return fmt.Errorf("clone for the build: %w", err)
	}
	if err := os.Rename(filepath.Join(tmp, ".git"), filepath.Join(dir, ".git")); err != nil {
		return err
	}
	if err := r.run(ctx, nil, "-C", dir, "reset", "--quiet", commit); err != nil {
		return fmt.Errorf("point the build's work tree at %s: %w", short(commit), err)
	}
	return nil
}
