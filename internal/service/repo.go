package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Fetcher brings an external repository's branch into a stack's remote.
type Fetcher interface {
	Fetch(ctx context.Context, stack, url, branch string) (before, after string, err error)
}

// Opener opens sealed values (secrets.Box).
type Opener interface {
	Open(sealed string) (string, error)
}

// RepoOptions make a stack watch an external repository.
type RepoOptions struct {
	URL    string        `json:"repo_url"`
	Branch string        `json:"branch,omitempty"`
	Poll   core.Duration `json:"poll,omitempty"`
}

// CreateStackFromRepo creates a stack that builds from an external
// repository, and returns its webhook secret (shown only now).
func (s *Service) CreateStackFromRepo(ctx context.Context, name string, opts RepoOptions) (core.Stack, string, error) {
	if opts.URL == "" {
		return core.Stack{}, "", core.Errorf(core.CodeInvalid, "repo_url is empty")
	}
	if opts.Branch == "" {
		opts.Branch = DefaultBranch
	}
	if opts.Poll.D() != 0 && opts.Poll.D() < 5*time.Second {
		return core.Stack{}, "", core.Errorf(core.CodeInvalid, "poll interval %s is too short; allowed: 5s or more, or 0 for webhooks only", opts.Poll)
	}
	if s.cfg.Sealer == nil || s.cfg.Fetcher == nil {
		return core.Stack{}, "", core.Errorf(core.CodeUnavailable, "external repositories are not available on this server")
	}
	b := make([]byte, 20)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	sealed, err := s.cfg.Sealer.Seal(secret)
	if err != nil {
		return core.Stack{}, "", err
	}
	st, err := s.CreateStack(ctx, name)
	if err != nil {
		return core.Stack{}, "", err
	}
	st.Repo = &core.RepoSource{URL: opts.URL, Branch: opts.Branch, Poll: opts.Poll, WebhookSecret: sealed}
	if shown := redactURL(opts.URL); shown != opts.URL {
		// Credentials in the URL are a secret like any other.
		if st.Repo.SealedURL, err = s.cfg.Sealer.Seal(opts.URL); err != nil {
			return core.Stack{}, "", err
		}
		st.Repo.URL = shown
	}
	if err := s.cfg.Store.UpdateStack(ctx, st); err != nil {
		return core.Stack{}, "", err
	}
	return st, secret, nil
}

// watchedBranch is the branch whose pushes deploy a stack.
func (s *Service) watchedBranch(stack string) string {
	if st, err := s.cfg.Store.GetStack(s.ctx, stack); err == nil && st.Repo != nil {
		return st.Repo.Branch
	}
	return DefaultBranch
}

// Hook is a webhook delivery, provider-neutral.
type Hook struct {
	Stack       string
	GitHubSig   string // X-Hub-Signature-256: "sha256=<hex HMAC of the body>"
	GitLabToken string // X-Gitlab-Token
	Event       string // push, ping, ...
	Body        []byte
}

// Webhook verifies a GitHub or GitLab delivery against the stack's
// secret and, for a push, fetches the repository and deploys what is
// new (in the background). Unverified deliveries change nothing.
func (s *Service) Webhook(ctx context.Context, h Hook) (string, error) {
	st, err := s.cfg.Store.GetStack(ctx, h.Stack)
	if err != nil || st.Repo == nil || s.cfg.Opener == nil {
		// Do not tell strangers which stacks exist.
		return "", core.Errorf(core.CodeUnauthorized, "webhook not accepted: unknown stack or bad signature")
	}
	secret, err := s.cfg.Opener.Open(st.Repo.WebhookSecret)
	if err != nil {
		return "", err
	}
	if !verifyHook(h, secret) {
		s.log.Warn("webhook with a bad signature", "stack", h.Stack)
		return "", core.Errorf(core.CodeUnauthorized, "webhook not accepted: unknown stack or bad signature")
	}
	if ev := strings.ToLower(h.Event); ev != "push" && ev != "push hook" {
		return "ignored " + h.Event, nil
	}
	go s.SyncRepo(h.Stack)
	return "fetching " + st.Repo.Branch, nil
}

// verifyHook checks a GitHub HMAC-SHA256 signature or a GitLab token.
func verifyHook(h Hook, secret string) bool {
	if h.GitHubSig != "" {
		sig, ok := strings.CutPrefix(h.GitHubSig, "sha256=")
		got, err := hex.DecodeString(sig)
		if !ok || err != nil {
			return false
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(h.Body)
		return hmac.Equal(got, mac.Sum(nil))
	}
	if h.GitLabToken != "" {
		return subtle.ConstantTimeCompare([]byte(h.GitLabToken), []byte(secret)) == 1
	}
	return false
}

// SyncRepo fetches a stack's external repository and deploys the
// watched branch's tip if it moved.
func (s *Service) SyncRepo(stack string) {
	st, err := s.cfg.Store.GetStack(s.ctx, stack)
	if err != nil || st.Repo == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
	defer cancel()
	url := st.Repo.URL
	if st.Repo.SealedURL != "" {
		if url, err = s.cfg.Opener.Open(st.Repo.SealedURL); err != nil {
			s.log.Warn("open the repository URL", "stack", stack, "err", err)
			return
		}
	}
	before, after, err := s.cfg.Fetcher.Fetch(ctx, stack, url, st.Repo.Branch)
	if err != nil {
		s.log.Warn("fetch the stack's repository", "stack", stack, "err", err)
		return
	}
	if after != "" && after != before {
		s.DeployPush(stack, st.Repo.Branch, after)
	}
}

// Poll fetches, every few seconds, the repositories of stacks that ask
// for polling and are due, until the server stops.
func (s *Service) Poll(ctx context.Context) {
	last := map[string]time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		stacks, err := s.cfg.Store.ListStacks(ctx)
		if err != nil {
			continue
		}
		for _, st := range stacks {
			if st.Repo == nil || st.Repo.Poll.D() <= 0 || time.Since(last[st.Name]) < st.Repo.Poll.D() {
				continue
			}
			last[st.Name] = time.Now()
			s.SyncRepo(st.Name)
		}
	}
}

// redactURL hides the user-info part of a URL ("https://user:token@host/x").
func redactURL(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		rest := url[i+3:]
		if at := strings.Index(rest, "@"); at >= 0 && !strings.Contains(rest[:at], "/") {
			return url[:i+3] + "****@" + rest[at+1:]
		}
	}
	return url
}
