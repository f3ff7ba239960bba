package service

import (
	"compress/gzip"
	"context"
	"strconv"
	"time"

	"io"

	"github.com/slipwayhq/slipway/internal/core"
)

// DefaultBranch is the branch whose pushes deploy; pushes to others are
// kept in the remote and deploy nothing.
const DefaultBranch = "main"

// DeployPush builds and releases a pushed commit, as `slipway deploy`
// does an upload. Pushes to other branches, deletions and pushes to
// stacks that no longer exist are ignored (and logged).
func (s *Service) DeployPush(stack, branch, commit string) (*Job, error) {
	log := s.log.With("stack", stack, "branch", branch, "commit", commit)
	if watched := s.watchedBranch(stack); branch != watched {
		log.Info("push to a branch that does not deploy; kept", "deploys", watched)
		return nil, nil
	}
	if commit == "" || commit == zeroSHA {
		log.Info("branch deleted; nothing to deploy")
		return nil, nil
	}
	if s.cfg.Source == nil {
		return nil, core.Errorf(core.CodeUnavailable, "no git remote configured")
	}
	tree := s.commitTree(stack, commit)
	defer tree.Close()
	job, err := s.deploy(s.ctx, stack, tree, core.Build{Trigger: "push", Commit: commit})
	if err != nil {
		log.Warn("push not deployed", "err", err)
		s.recordRejected(stack, commit, err)
		return nil, err
	}
	log.Info("push deploys", "build", job.Build)
	return job, nil
}

// recordRejected keeps a push that failed before its build started (a
// manifest error, say) in the stack's build history, so `slipway builds`
// tells the pusher why nothing deployed.
func (s *Service) recordRejected(stack, commit string, cause error) {
	ctx := context.WithoutCancel(s.ctx)
	if _, err := s.cfg.Store.GetStack(ctx, stack); err != nil {
		return
	}
	n, err := s.cfg.Store.NextSeq(ctx, stack, "build")
	if err != nil {
		return
	}
	now := time.Now().UTC()
	b := core.Build{ID: "b" + strconv.Itoa(n), Stack: stack, Status: core.BuildFailed, Commit: commit,
		Trigger: "push", Error: cause.Error(), StartedAt: now, FinishedAt: &now}
	s.cfg.Store.PutBuild(ctx, b)
	s.reportBuild(b)
}

const zeroSHA = "0000000000000000000000000000000000000000"

// Retry runs a pushed build's commit again (after an interruption, say),
// as a new build. Uploaded builds have no source kept to run again.
func (s *Service) Retry(ctx context.Context, stack, build string) (*Job, error) {
	b, err := s.cfg.Store.GetBuild(ctx, stack, build)
	if err != nil {
		return nil, err
	}
	if b.Status == core.BuildRunning {
		return nil, core.Errorf(core.CodeConflict, "build %s is still running", build)
	}
	if b.Commit == "" || s.cfg.Source == nil {
		return nil, core.Errorf(core.CodeInvalid, "build %s was an upload, whose source is not kept: run `slipway deploy` again", build)
	}
	tree := s.commitTree(stack, b.Commit)
	defer tree.Close()
	// Its own trigger: a retry is deliberate, so it is never superseded
	// by (and never supersedes) a push.
	return s.deploy(s.ctx, stack, tree, core.Build{Trigger: "retry", Commit: b.Commit})
}

// commitTree streams a commit's tree as the tar.gz an upload would be.
func (s *Service) commitTree(stack, commit string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		err := s.cfg.Source.Archive(s.ctx, stack, commit, zw)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}
