package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Delete removes a stack: its record and history, its instances and
// network, its images in the registry and in the engine, and its logs.
// A build in progress is canceled first.
func (s *Service) Delete(ctx context.Context, name string) error {
	if _, err := s.cfg.Store.GetStack(ctx, name); err != nil {
		return err
	}
	// Once begun, finish even if the client goes away: a half-deleted
	// stack could not be deleted again ("unknown stack").
	ctx = context.WithoutCancel(ctx)
	s.mu.Lock()
	for key, j := range s.jobs {
		if strings.HasPrefix(key, name+"/") {
			j.cancel()
		}
	}
	s.mu.Unlock()
	// Runs before releases, as run() takes them: no deadlock, and the
	// canceled run has stopped before anything is removed.
	unlockRuns := s.lockRuns(name)
	defer unlockRuns()
	unlock := s.lockStack(name)
	defer unlock()
	builds, err := s.cfg.Store.ListBuilds(ctx, name)
	if err != nil {
		return err
	}
	stack, err := s.cfg.Store.GetStack(ctx, name)
	if err != nil {
		return err
	}
	// Forget the stack first: the gateway stops routing it and the
	// controller treats its instances as orphans, so nothing restarts them.
	if err := s.cfg.Store.DeleteStack(ctx, name); err != nil {
		return err
	}
	if err := s.cfg.Controller.RemoveStack(ctx, name); err != nil {
		return fmt.Errorf("remove instances of %s: %w", name, err)
	}
	if err := s.cfg.Registry.DeleteRepository(ctx, name); err != nil {
		return fmt.Errorf("delete images of %s from the registry: %w", name, err)
	}
	// Every local tag a build or release made: latest, each build's ID
	// and commit, and each stage's tag.
	tags := map[string]bool{"latest": true}
	for _, b := range builds {
		tags[b.ID], tags[b.Commit] = true, b.Commit != ""
	}
	for _, st := range stack.Spec.Stages {
		tags[st.Name] = true
	}
	var refs []string
	for tag, ok := range tags {
		if ok {
			refs = append(refs, s.cfg.Images.Ref(name, tag))
		}
	}
	for _, ref := range refs {
		if err := s.cfg.Engine.RemoveImage(ctx, ref); err != nil {
			s.log.Warn("remove local image", "image", ref, "err", err)
		}
	}
	if s.cfg.Source != nil {
		if err := s.cfg.Source.Remove(name); err != nil {
			s.log.Warn("remove git remote", "stack", name, "err", err)
		}
	}
	if s.cfg.Logs != nil {
		if err := s.cfg.Logs.Remove(name); err != nil {
			s.log.Warn("remove logs", "stack", name, "err", err)
		}
	}
	os.RemoveAll(filepath.Join(s.cfg.DataDir, "artifacts", name))
	s.log.Info("stack deleted", "stack", name)
	return nil
}
