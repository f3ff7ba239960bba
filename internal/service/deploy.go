package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/manifest"
	"github.com/slipwayhq/slipway/internal/pipeline"
)

// ManifestFile is the stack manifest at the root of a build context.
const ManifestFile = "slipway.yml"

// Deploy unpacks an uploaded build context (a tar.gz), validates its
// manifest and buildspec, records a build, and starts a job that builds
// the image and releases it to the stack's first stage. Bad input fails
// here, before anything is recorded; the job's own failures arrive as
// its error event. The stack is created on its first deploy.
func (s *Service) Deploy(ctx context.Context, stack string, context io.Reader) (*Job, error) {
	return s.deploy(ctx, stack, context, core.Build{Trigger: "upload"})
}

// deploy is Deploy with the build's origin (trigger, commit) filled in.
func (s *Service) deploy(ctx context.Context, stack string, context io.Reader, origin core.Build) (*Job, error) {
	if err := core.ValidateStackName(stack); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.cfg.tmpDir(), stack+"-")
	if err != nil {
		return nil, fmt.Errorf("create build dir: %w", err)
	}
	job, err := s.prepare(ctx, stack, dir, context, origin)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return job, nil
}

func (s *Service) prepare(ctx context.Context, stack, dir string, body io.Reader, origin core.Build) (*Job, error) {
	if err := pipeline.Extract(body, dir); err != nil {
		return nil, err
	}
	if origin.Commit != "" && s.cfg.Source != nil {
		if err := s.cfg.Source.Checkout(ctx, stack, origin.Commit, dir); err != nil {
			return nil, err
		}
	}
	spec, err := readManifest(dir, stack)
	if err != nil {
		return nil, err
	}
	if spec.Architecture == core.ArchServerless && s.cfg.Serverless == nil {
		return nil, core.Errorf(core.CodeInvalid, "%s: this server does not run the serverless architecture; use \"container\"", ManifestFile)
	}
	var buildspec *manifest.Buildspec
	if data, err := os.ReadFile(filepath.Join(dir, pipeline.BuildspecFile)); err == nil {
		bs, err := manifest.ParseBuildspec(pipeline.BuildspecFile, data)
		if err != nil {
			return nil, err
		}
		buildspec = &bs
	}
	// release.yml is checked now, so a bad one fails before anything is
	// built, and kept with the build for each of its releases.
	if data, err := os.ReadFile(filepath.Join(dir, ReleasespecFile)); err == nil {
		if _, err := manifest.ParseBuildspec(ReleasespecFile, data); err != nil {
			return nil, err
		}
		origin.ReleaseYML = string(data)
	}
	now := time.Now().UTC()
	var b core.Build
	// Numbered and queued under one lock, so runs take their turns in
	// build order.
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	err = s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		if _, err := tx.GetStack(ctx, stack); core.IsNotFound(err) {
			if err := tx.CreateStack(ctx, core.Stack{Name: stack, Spec: spec, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		n, err := tx.NextSeq(ctx, stack, "build")
		if err != nil {
			return err
		}
		b = core.Build{ID: "b" + strconv.Itoa(n), Stack: stack, Status: core.BuildRunning, StartedAt: now,
			Commit: origin.Commit, Trigger: origin.Trigger, ReleaseYML: origin.ReleaseYML}
		return tx.PutBuild(ctx, b)
	})
	if err != nil {
		return nil, err
	}
	queue := s.runQueue(stack)
	turn := queue.enqueue()
	s.ensureRemote(stack)
	s.cfg.Controller.Kick() // a new stack gets its routes
	job := newJob(stack, b.ID, s.buildLog(stack))
	jctx, cancel := context.WithCancel(s.ctx)
	job.cancel = cancel
	key := stack + "/" + b.ID
	s.mu.Lock()
	s.jobs[key] = job
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer os.RemoveAll(dir)
		defer os.RemoveAll(dir + ".docker")
		defer func() {
			s.mu.Lock()
			delete(s.jobs, key)
			s.mu.Unlock()
		}()
		s.run(jctx, job, b, spec, buildspec, dir, queue, turn)
	}()
	return job, nil
}

// buildVars are the variables a buildspec sees, as TinyStacks set them
// on CodeBuild, plus a docker CLI config logged in to the embedded
// registry (so `docker push $ECR_IMAGE_URL:...` just works).
func (s *Service) buildVars(b core.Build, spec core.StackSpec, version, dir string) (map[string]string, error) {
	dockerCfg := dir + ".docker"
	if err := s.cfg.Images.DockerConfig(dockerCfg); err != nil {
		return nil, fmt.Errorf("docker config for the build: %w", err)
	}
	artifacts := filepath.Join(s.cfg.DataDir, "artifacts", b.Stack)
	if err := os.MkdirAll(artifacts, 0o700); err != nil {
		return nil, err
	}
	source := b.Commit
	if source == "" {
		source = "upload/" + b.ID
	}
	vars := map[string]string{}
	if st, err := s.cfg.Store.GetStack(s.ctx, b.Stack); err == nil {
		for k, v := range st.BuildVars {
			vars[k] = v
		}
	}
	for k, v := range map[string]string{
		"SLIPWAY_STACK": b.Stack, "SLIPWAY_BUILD_ID": b.ID,
		"ECR_ENDPOINT": s.cfg.Images.Registry, "ECR_IMAGE_URL": s.cfg.Images.Registry + "/" + b.Stack,
		"S3_BUCKET": artifacts, "SERVICE_NAME": b.Stack, "AWS_REGION": "us-east-1",
		"STAGE_NAME": spec.FirstStage(), "PREVIOUS_STAGE_NAME": "latest",
		"CODEBUILD_BUILD_ID": b.Stack + ":" + b.ID, "CODEBUILD_RESOLVED_SOURCE_VERSION": version,
		"CODEBUILD_SOURCE_VERSION": source, "DOCKER_CONFIG": dockerCfg,
	} {
		vars[k] = v
	}
	return vars, nil
}

// where says where b's buildspecs run: on the host, or in slipway.yml's
// build.image with the variables' directories mounted. Build containers
// are labelled for this server, so a restart removes any it left.
func (s *Service) where(b core.Build, spec core.StackSpec, vars map[string]string) pipeline.Where {
	if spec.Build.Image == "" {
		return pipeline.Where{}
	}
	return pipeline.Where{Image: spec.Build.Image, Engine: s.cfg.Engine,
		Mounts: []string{vars["DOCKER_CONFIG"], vars["S3_BUCKET"]},
		Labels: map[string]string{core.LabelTask: "build", core.LabelServer: s.cfg.ServerID, core.LabelStack: b.Stack, core.LabelBuild: b.ID}}
}

// branchTip is the watched branch's commit now, for a push build ("" for
// any other build, or when it cannot be told).
func (s *Service) branchTip(ctx context.Context, b core.Build) string {
	if b.Trigger != "push" || s.cfg.Source == nil {
		return ""
	}
	tip, err := s.cfg.Source.Resolve(ctx, b.Stack, s.watchedBranch(b.Stack))
	if err != nil {
		return ""
	}
	return tip
}

// readManifest parses slipway.yml; without one, the stack gets defaults.
func readManifest(dir, stack string) (core.StackSpec, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return manifest.Parse(ManifestFile, []byte("name: "+stack+"\n"))
	}
	if err != nil {
		return core.StackSpec{}, fmt.Errorf("read %s: %w", ManifestFile, err)
	}
	spec, err := manifest.Parse(ManifestFile, data)
	if err != nil {
		return spec, err
	}
	if spec.Name != stack {
		return spec, core.Errorf(core.CodeInvalid, "%s names stack %q but this deploy is for stack %q; make them match", ManifestFile, spec.Name, stack)
	}
	return spec, nil
}

// run is the job: build, push, release, roll out. Whatever fails, the
// stage keeps serving what it served before.
func (s *Service) run(ctx context.Context, job *Job, b core.Build, spec core.StackSpec, bs *manifest.Buildspec, dir string, queue *runQueue, turn chan struct{}) {
	log := s.log.With("stack", b.Stack, "build", b.ID)
	// One pipeline run at a time per stack, in build order (queue); the
	// stack lock is taken only to release, so rollback, approve and env
	// set never wait for a build.
	emit := job.emit
	fail := func(err error) {
		ev := core.Event{Type: core.EventError, Message: err.Error(), Code: core.CodeOf(err)}
		var de *core.Error
		if errors.As(err, &de) {
			ev.Details = de.Details
		}
		if ctx.Err() != nil && ev.Code == core.CodeInternal {
			ev.Message = "canceled: " + ev.Message
		}
		log.Warn("deploy failed", "err", err)
		emit(ev)
	}
	finishBuild := func(status core.BuildStatus, err error) {
		now := time.Now().UTC()
		b.Status, b.FinishedAt = status, &now
		if err != nil {
			b.Error = err.Error()
		}
		if status == core.BuildInterrupted {
			b.Error = interruptedBuild
		}
		if perr := s.cfg.Store.PutBuild(context.WithoutCancel(ctx), b); perr != nil {
			log.Error("save build", "err", perr)
		}
		s.reportBuild(b)
	}

	// Queued runs wait their turn; one canceled while it waits (a
	// delete, the server stopping) never starts.
	if !queue.wait(turn, ctx.Done()) {
		err := core.Errorf(core.CodeConflict, "build %s was canceled while it waited for an earlier run", b.ID)
		finishBuild(s.failedStatus(err), err)
		fail(err)
		return
	}
	defer queue.done()
	// A delete may have won the race for the stack lock.
	if _, err := s.cfg.Store.GetStack(ctx, b.Stack); err != nil {
		fail(core.Errorf(core.CodeConflict, "stack %s was deleted before build %s started", b.Stack, b.ID))
		return
	}
	// One run at a time per stack. A push whose commit is no longer the
	// tip of the watched branch (a newer push came while it waited) is
	// superseded: only the branch's tip deploys, whatever order the
	// pushes' jobs start in.
	if tip := s.branchTip(ctx, b); tip != "" && tip != b.Commit {
		now := time.Now().UTC()
		b.Status, b.FinishedAt, b.Error = core.BuildSuperseded, &now, "superseded: the branch has moved on to "+tip
		s.cfg.Store.PutBuild(context.WithoutCancel(ctx), b)
		emit(core.Event{Type: core.EventError, Code: core.CodeConflict, Message: fmt.Sprintf("build %s superseded: the branch has moved on to %s", b.ID, tip)})
		return
	}
	emit(core.Event{Type: core.EventStep, Message: fmt.Sprintf("build %s of stack %s", b.ID, b.Stack)})
	if bs != nil {
		for _, w := range bs.Warnings {
			emit(core.Event{Type: core.EventLog, Message: "warning: " + w})
		}
	}
	// The tag a TinyStacks build.yml pushes: the commit (or, for an
	// upload, the build ID) as $CODEBUILD_RESOLVED_SOURCE_VERSION.
	version := b.Commit
	if version == "" {
		version = b.ID
	}
	pushedRef, pushedDigest := "", ""
	// One deadline for the whole build: build.yml and the image build.
	buildCtx, cancelBuild := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancelBuild()
	if bs != nil {
		before, _ := s.cfg.Registry.Digest(ctx, b.Stack, version)
		vars, err := s.buildVars(b, spec, version, dir)
		if err == nil {
			err = pipeline.RunPhases(buildCtx, *bs, dir, vars, s.cfg.BuildTimeout, s.where(b, spec, vars), emit)
		}
		if err != nil {
			finishBuild(s.failedStatus(err), err)
			fail(err)
			return
		}
		// A build.yml that pushed $ECR_IMAGE_URL:$CODEBUILD_RESOLVED_SOURCE_VERSION
		// made the image itself (TinyStacks' way): release that one.
		if after, err := s.cfg.Registry.Digest(ctx, b.Stack, version); err == nil && after != before {
			pushedRef, pushedDigest = s.cfg.Images.Ref(b.Stack, version), after
		}
	}
	var ref, digest string
	var err error
	if pushedRef != "" {
		ref, digest = pushedRef, pushedDigest
		emit(core.Event{Type: core.EventStep, Message: fmt.Sprintf("build.yml pushed %s (%s); releasing it", ref, digest)})
	} else {
		var extra []string
		if b.Commit != "" {
			extra = []string{b.Commit}
		}
		// DOCKERFILE_PATH, a build variable, picks the Dockerfile in a
		// monorepo, as TinyStacks' did; else slipway.yml's.
		dockerfile := spec.Build.Dockerfile
		if st, err := s.cfg.Store.GetStack(ctx, b.Stack); err == nil && st.BuildVars["DOCKERFILE_PATH"] != "" {
			dockerfile = st.BuildVars["DOCKERFILE_PATH"]
		}
		ref, digest, err = s.cfg.Images.BuildAndPush(buildCtx, b.Stack, b.ID, dir, dockerfile, extra, emit)
		if errors.Is(buildCtx.Err(), context.DeadlineExceeded) {
			err = core.Errorf(core.CodeTimedOut, "image build and push timed out after %s; it was stopped", s.cfg.BuildTimeout)
		}
	}
	if err != nil {
		finishBuild(s.failedStatus(err), err)
		fail(err)
		return
	}
	b.Image, b.Digest = ref, digest
	finishBuild(core.BuildSucceeded, nil)
	emit(core.Event{Type: core.EventLog, Message: fmt.Sprintf("pushed %s (%s)", ref, digest)})

	unlock := s.lockStack(b.Stack)
	defer unlock()
	rel, err := s.release(ctx, core.Release{Stack: b.Stack, Stage: spec.FirstStage(), Build: b.ID, Image: b.Image, Spec: spec, Trigger: "deploy"}, true, emit)
	if err != nil {
		fail(err)
		return
	}
	url := s.URL(b.Stack, rel.Stage)
	log.Info("deployed", "release", rel.ID, "stage", rel.Stage, "url", url)
	if err := s.promote(ctx, b, spec, 1, emit); err != nil {
		fail(err)
		return
	}
	s.pruneAfter(ctx, b.Stack, emit)
	emit(core.Event{Type: core.EventDone, Message: fmt.Sprintf("release %s of build %s is serving stage %s", rel.ID, b.ID, rel.Stage),
		Release: rel.ID, Stage: rel.Stage, URL: url})
}

const interruptedBuild = "interrupted: the server stopped during the build; `slipway builds retry` runs it again"

// failedStatus is what a build that ended with err is marked: timed out,
// interrupted by the server stopping (retry runs it again), or failed.
func (s *Service) failedStatus(err error) core.BuildStatus {
	switch {
	case core.CodeOf(err) == core.CodeTimedOut:
		return core.BuildTimedOut
	case s.ctx.Err() != nil:
		return core.BuildInterrupted
	}
	return core.BuildFailed
}

// release records a release made from tmpl (stack, stage, build, image,
// spec snapshot, trigger) and rolls it out. On success it is active, the
// stage's previous one superseded, and, with updateSpec, the stack's
// spec is the one it carries (a deploy; a rollback leaves it alone).
func (s *Service) release(ctx context.Context, tmpl core.Release, updateSpec bool, emit func(core.Event)) (core.Release, error) {
	st := s.cfg.Store
	n, err := st.NextSeq(ctx, tmpl.Stack, "release")
	if err != nil {
		return core.Release{}, err
	}
	rel := tmpl
	if rel.Trigger != "rollback" {
		// Every release but a rollback carries the stage's variables and
		// secrets as they are now; a rollback restores its target's.
		stack, err := st.GetStack(ctx, rel.Stack)
		if err != nil {
			return core.Release{}, err
		}
		rel = withStageConfig(rel, stack)
	}
	rel.ID, rel.Status, rel.Error, rel.CreatedAt = "r"+strconv.Itoa(n), core.ReleasePending, "", time.Now().UTC()
	emit, logEnd := s.releaseLog(rel, emit)
	if b, err := st.GetBuild(ctx, rel.Stack, rel.Build); err == nil {
		rel.Digest, rel.Commit = b.Digest, b.Commit
		if b.ReleaseYML != "" && rel.Trigger != "rollback" && rel.Trigger != "env" {
			image, digest, err := s.runReleaseSpec(ctx, b, rel, emit)
			if err != nil {
				rel.Status, rel.Error = core.ReleaseFailed, err.Error()
				rel.ConfigHash = configHash(rel)
				st.PutRelease(context.WithoutCancel(ctx), rel)
				s.reportRelease(rel)
				logEnd(err)
				return rel, err
			}
			rel.Image, rel.Digest = image, digest
		}
	}
	rel.ConfigHash = configHash(rel)
	b, stage, spec := core.Build{Stack: rel.Stack}, rel.Stage, rel.Spec
	if err := st.PutRelease(ctx, rel); err != nil {
		logEnd(err)
		return rel, err
	}
	emit(core.Event{Type: core.EventStep, Message: fmt.Sprintf("release %s to stage %s", rel.ID, stage), Release: rel.ID, Stage: stage})
	activate := func(ctx context.Context) error {
		return st.Tx(ctx, func(tx storeTx) error {
			stack, err := tx.GetStack(ctx, b.Stack)
			if err != nil {
				return err
			}
			prev, err := tx.ListReleases(ctx, b.Stack, stage)
			if err != nil {
				return err
			}
			for _, p := range prev {
				if p.Status == core.ReleaseActive {
					p.Status = core.ReleaseSuperseded
					if err := tx.PutRelease(ctx, p); err != nil {
						return err
					}
				}
			}
			rel.Status = core.ReleaseActive
			if err := tx.PutRelease(ctx, rel); err != nil {
				return err
			}
			if updateSpec {
				stack.Spec, stack.UpdatedAt = spec, time.Now().UTC()
				if err := tx.UpdateStack(ctx, stack); err != nil {
					return err
				}
			}
			return tx.SetStageRelease(ctx, b.Stack, stage, rel.ID)
		})
	}
	progress := func(msg string) { emit(core.Event{Type: core.EventLog, Message: msg}) }
	if err := s.cfg.Controller.Rollout(ctx, rel, progress, activate); err != nil {
		rel.Status, rel.Error = core.ReleaseFailed, err.Error()
		if perr := st.PutRelease(context.WithoutCancel(ctx), rel); perr != nil {
			s.log.Error("save failed release", "err", perr)
		}
		s.reportRelease(rel)
		logEnd(err)
		return rel, err
	}
	s.reportRelease(rel)
	logEnd(nil)
	// The data plane re-reads the stage's endpoint settings, which the
	// release may have changed (a serverless stage's routes do not
	// change with its instances, so nothing else would tell it).
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
	// As TinyStacks' release step did: <stack>:<stage> names what the
	// stage serves, in the registry too.
	if err := s.cfg.Images.TagStage(ctx, rel.Stack, rel.Image, stage); err != nil {
		s.log.Warn("tag the stage's image", "stack", rel.Stack, "stage", stage, "err", err)
	}
	return rel, nil
}

// configHash fingerprints what a release runs besides its image: the
// stage's spec, variables and sealed secrets.
func configHash(rel core.Release) string {
	stage, _ := rel.Spec.Stage(rel.Stage)
	// Sealed values: a rotated secret changes the hash; the plain value
	// never enters it.
	names := make([]string, 0, len(rel.Secrets))
	for k, v := range rel.Secrets {
		names = append(names, k+"="+v)
	}
	sort.Strings(names)
	doc, _ := json.Marshal(struct {
		Port    int
		Health  core.HealthSpec
		Stage   core.StageSpec
		Vars    map[string]string
		Secrets []string
	}{rel.Spec.Port, rel.Spec.Health, stage, rel.Vars, names})
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:6])
}

// Job returns a running job, or nil once it has finished.
func (s *Service) Job(stack, build string) *Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[stack+"/"+build]
}

// FollowBuild streams a build's events: live while it runs, replayed
// from its log once it has finished.
func (s *Service) FollowBuild(ctx context.Context, stack, build string, fn func(core.Event) error) error {
	b, err := s.cfg.Store.GetBuild(ctx, stack, build)
	if err != nil {
		return err
	}
	if j := s.Job(stack, build); j != nil {
		return j.Follow(ctx, fn)
	}
	return s.replayBuild(ctx, b, fn)
}
