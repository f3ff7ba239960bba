package service

import (
	"context"
	"sort"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

// ExportRequest asks for a stack in another platform's format.
type ExportRequest struct {
	Format string `json:"format"`          // an exporter's name (cloudformation, kubernetes)
	Stage  string `json:"stage,omitempty"` // "" for every stage
	// IncludeSecrets puts the secret variables' values in the output.
	IncludeSecrets bool `json:"include_secrets,omitempty"`
}

// ExportFile is one emitted file; Data is its text.
type ExportFile struct {
	Name     string   `json:"name"`
	Data     string   `json:"data"`
	Warnings []string `json:"warnings,omitempty"`
}

// ExportResult is an export's files, in the exporter's order.
type ExportResult struct {
	Stack  string       `json:"stack"`
	Format string       `json:"format"`
	Files  []ExportFile `json:"files"`
}

// ExportFormats lists the formats the server exports to, sorted.
func (s *Service) ExportFormats() []string {
	out := make([]string, 0, len(s.cfg.Exporters))
	for _, e := range s.cfg.Exporters {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Export translates a stack, as the state store knows it now (spec,
// serving images, env, secrets, domains, alarms), with the named
// exporter.
func (s *Service) Export(ctx context.Context, stack string, req ExportRequest) (ExportResult, error) {
	var exp export.Exporter
	for _, e := range s.cfg.Exporters {
		if e.Name() == req.Format {
			exp = e
		}
	}
	if exp == nil {
		return ExportResult{}, core.Errorf(core.CodeInvalid, "unknown export format %q; allowed: %s", req.Format, strings.Join(s.ExportFormats(), ", "))
	}
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return ExportResult{}, err
	}
	if req.Stage != "" {
		if _, ok := st.Spec.Stage(req.Stage); !ok {
			return ExportResult{}, core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, req.Stage, stageNames(st.Spec))
		}
	}
	in := exportInput{stack: st, stage: req.Stage, domain: s.cfg.Domain, serving: map[string]core.Release{}}
	srs, err := s.cfg.Store.StageReleases(ctx)
	if err != nil {
		return ExportResult{}, err
	}
	for _, sr := range srs {
		if sr.Stack != stack {
			continue
		}
		if rel, err := s.cfg.Store.GetRelease(ctx, stack, sr.Release); err == nil {
			in.serving[sr.Stage] = rel
		}
	}
	if in.domains, err = s.cfg.Store.ListDomains(ctx, stack); err != nil {
		return ExportResult{}, err
	}
	if in.alarms, err = s.cfg.Store.ListAlarms(ctx, stack); err != nil {
		return ExportResult{}, err
	}
	if req.IncludeSecrets {
		if s.cfg.Opener == nil {
			return ExportResult{}, core.Errorf(core.CodeUnavailable, "this server cannot open secrets; export without --include-secrets")
		}
		in.open = s.cfg.Opener.Open
	}
	xs, err := exportStack(in)
	if err != nil {
		return ExportResult{}, err
	}
	files, err := exp.Export(xs, export.Options{IncludeSecrets: req.IncludeSecrets})
	if err != nil {
		return ExportResult{}, core.Errorf(core.CodeInvalid, "export %s as %s: %v", stack, req.Format, err)
	}
	out := ExportResult{Stack: stack, Format: req.Format, Files: make([]ExportFile, len(files))}
	for i, f := range files {
		out.Files[i] = ExportFile{Name: f.Name, Data: string(f.Data), Warnings: f.Warnings}
	}
	return out, nil
}

// exportInput is what the store knows of a stack, read for an export.
type exportInput struct {
	stack   core.Stack
	stage   string                  // "" for every stage
	domain  string                  // the gateway's
	serving map[string]core.Release // by stage
	domains []core.Domain
	alarms  []core.Alarm
	// open unseals a secret value; nil leaves the values out.
	open func(sealed string) (string, error)
}

// exportStack assembles an exporter's input: each stage asked for with
// its serving image (pinned by digest), its env (slipway.yml's under
// `env set`'s, as instances get it), its secrets (names; values only
// with open), its domains and its alarms, sorted.
func exportStack(in exportInput) (export.Stack, error) {
	st := in.stack
	out := export.Stack{Spec: st.Spec, Domain: in.domain, BuildVars: copyMap(st.BuildVars)}
	for _, spec := range st.Spec.Stages {
		if in.stage != "" && spec.Name != in.stage {
			continue
		}
		xs := export.Stage{Spec: spec, Env: map[string]string{}, Secrets: map[string]string{}}
		if rel, ok := in.serving[spec.Name]; ok {
			xs.Image = imageRef(rel)
		}
		for k, v := range spec.Env {
			xs.Env[k] = v
		}
		for k, v := range st.Vars[spec.Name] {
			xs.Env[k] = v
		}
		for k, sealed := range st.Secrets[spec.Name] {
			delete(xs.Env, k)
			xs.Secrets[k] = ""
			if in.open != nil {
				v, err := in.open(sealed)
				if err != nil {
					return export.Stack{}, core.Errorf(core.CodeInternal, "open secret %s of %s/%s: %v", k, st.Name, spec.Name, err)
				}
				xs.Secrets[k] = v
			}
		}
		for _, d := range in.domains {
			if d.Stage == spec.Name {
				xs.Domains = append(xs.Domains, d.Name)
			}
		}
		sort.Strings(xs.Domains)
		for _, a := range in.alarms {
			if a.Stage == spec.Name {
				xs.Alarms = append(xs.Alarms, a)
			}
		}
		sort.Slice(xs.Alarms, func(i, j int) bool { return xs.Alarms[i].ID < xs.Alarms[j].ID })
		out.Stages = append(out.Stages, xs)
	}
	return out, nil
}

// imageRef is a release's image pinned by its digest when known
// (registry/stack@sha256:...), else as released.
func imageRef(rel core.Release) string {
	if rel.Digest == "" {
		return rel.Image
	}
	name := rel.Image
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + rel.Digest
}
