package manifest

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Buildspec is a build.yml (or release.yml) in the AWS CodeBuild buildspec
// format, version 0.2, restricted to what Slipway runs. The pipeline runs
// its phases in order, each command in the same shell session.
type Buildspec struct {
	Version   string     `json:"version"`
	Env       BuildEnv   `json:"env"`
	Phases    []Phase    `json:"phases"` // execution order; only phases present in the file
	Artifacts *Artifacts `json:"artifacts,omitempty"`

	// Warnings are the CodeBuild keys and values of the file that Slipway
	// does not implement and ignores, in file order, one line each:
	// "build.yml:3:3: env.parameter-store is not supported by Slipway and
	// is ignored".
	Warnings []string `json:"warnings,omitempty"`
}

// BuildEnv is the buildspec's env section.
type BuildEnv struct {
	Variables map[string]string `json:"variables,omitempty"` // values as written
	Shell     string            `json:"shell"`               // DefaultShell unless set
}

// Phase is one build phase. Commands run in order; if one fails, Finally
// still runs, and OnFailure says whether the build goes on.
type Phase struct {
	Name            string            `json:"name"`
	Commands        []string          `json:"commands,omitempty"`
	Finally         []string          `json:"finally,omitempty"`
	OnFailure       string            `json:"on_failure"`                 // OnFailureAbort or OnFailureContinue
	RuntimeVersions map[string]string `json:"runtime_versions,omitempty"` // install phase only
}

// Artifacts is the buildspec's artifacts section. Slipway keeps it as
// parsed data; nothing uses it yet.
type Artifacts struct {
	Files         []string `json:"files"`
	BaseDirectory string   `json:"base_directory,omitempty"`
	DiscardPaths  bool     `json:"discard_paths"`
	Name          string   `json:"name,omitempty"`
}

// Phase names, in execution order.
const (
	PhaseInstall   = "install"
	PhasePreBuild  = "pre_build"
	PhaseBuild     = "build"
	PhasePostBuild = "post_build"
)

// What a phase's on-failure may say.
const (
	OnFailureAbort    = "ABORT"    // stop the build (the default)
	OnFailureContinue = "CONTINUE" // go on with the next phase
)

const (
	// BuildspecVersion is the only buildspec version Slipway runs: in 0.2
	// all commands of a build share one shell session.
	BuildspecVersion = "0.2"
	// DefaultShell runs the commands when env.shell is not set, as on
	// CodeBuild's Linux images.
	DefaultShell = "/bin/sh"
)

// Keys and values of the buildspec format. The "unsupported" lists hold
// keys of the AWS format Slipway does not implement: a file that uses them
// still runs, their values are ignored, and each one is a warning. A key in
// neither list is not CodeBuild's either, and an error.
var (
	phaseOrder = []string{PhaseInstall, PhasePreBuild, PhaseBuild, PhasePostBuild}

	buildspecKeys        = []string{"version", "env", "phases", "artifacts"}
	buildspecUnsupported = []string{"run-as", "proxy", "batch", "cache", "reports"}
	envKeys              = []string{"variables", "shell"}
	envUnsupported       = []string{"parameter-store", "secrets-manager", "exported-variables", "git-credential-helper"}
	phaseKeys            = []string{"runtime-versions", "commands", "finally", "on-failure"}
	phaseUnsupported     = []string{"run-as"}
	artifactKeys         = []string{"files", "name", "base-directory", "discard-paths"}
	artifactUnsupported  = []string{"secondary-artifacts", "exclude-paths", "enable-symlinks", "s3-prefix"}

	shells     = []string{"bash", "/bin/sh"} // CodeBuild's Linux shell tags
	onFailures = []string{OnFailureAbort, OnFailureContinue}
)

// ParseBuildspec reads an AWS-CodeBuild-style buildspec. filename is only
// used in messages ("buildspec.yml" when empty). Errors follow the same
// rules as Parse: core.CodeInvalid, one line, file:line:col first. CodeBuild
// keys that Slipway does not implement are not errors: they are listed in
// the result's Warnings, in the same file:line:col form.
func ParseBuildspec(filename string, data []byte) (Buildspec, error) {
	d := newDecoder(filename, "buildspec.yml")
	bs := d.buildspec(data)
	if err := d.err(); err != nil {
		return Buildspec{}, err
	}
	bs.Warnings = d.warningLines()
	return bs, nil
}

func (d *decoder) buildspec(data []byte) Buildspec {
	bs := Buildspec{Env: BuildEnv{Shell: DefaultShell}}
	body, ok := d.document(data)
	if !ok {
		return bs
	}
	if body == nil {
		d.addf(docStart, "version is required: the file has no keys; start it with \"version: 0.2\"")
		return bs
	}
	root, ok := d.resolve(body)
	if !ok {
		return bs
	}
	if _, isMap := root.(*ast.MappingNode); !isMap {
		d.addf(posOf(body), "%s must be a mapping of keys, got %s; allowed keys: %s", d.base, kind(root), allowedList(buildspecKeys))
		return bs
	}
	hasVersion, hasPhases := false, false
	for _, e := range d.fields(root, d.base, "", buildspecKeys, buildspecUnsupported) {
		switch e.key {
		case "version":
			hasVersion = true
			bs.Version = d.version(e)
		case "env":
			d.buildEnv(e, &bs.Env)
		case "phases":
			hasPhases = true
			bs.Phases = d.phases(e)
		case "artifacts":
			bs.Artifacts = d.artifacts(e)
		}
	}
	if !hasVersion {
		d.addLatef(posOf(root), "version is required: %s has no version key; add \"version: 0.2\"", d.base)
	}
	if !hasPhases {
		d.addLatef(posOf(root), "phases is required: %s has no phases key; add e.g. \"phases: {build: {commands: [make]}}\"", d.base)
	}
	return bs
}

func (d *decoder) version(e entry) string {
	v, ok := d.scalar(e.value, e.path, e.keyN)
	if !ok {
		return ""
	}
	switch v {
	case BuildspecVersion:
		return v
	case "0.1":
		d.addf(posOf(e.value), "version 0.1 is not supported: it runs every command in its own shell; use \"version: 0.2\"")
	default:
		d.addf(posOf(e.value), "invalid version %q; allowed: %s", v, BuildspecVersion)
	}
	return ""
}

func (d *decoder) buildEnv(e entry, env *BuildEnv) {
	m, ok := d.mapping(e, "variables and shell")
	if !ok {
		return
	}
	for _, f := range d.fields(m, "env", "env.", envKeys, envUnsupported) {
		switch f.key {
		case "variables":
			if vars, ok := d.stringMap(f, "variables", envNameRE.MatchString, envNameRule); ok && len(vars) > 0 {
				env.Variables = vars
			}
		case "shell":
			if s, ok := d.oneOf(f, shells); ok {
				env.Shell = s
			}
		}
	}
}

// phases returns the phases present, in execution order whatever the order
// in the file.
func (d *decoder) phases(e entry) []Phase {
	m, ok := d.mapping(e, "phases ("+allowedList(phaseOrder)+")")
	if !ok {
		return nil
	}
	found := map[string]Phase{}
	fields := d.fields(m, "phases", "phases.", phaseOrder, nil)
	if len(fields) == 0 && len(m.(*ast.MappingNode).Values) == 0 {
		d.addf(posOf(e.value, e.keyN), "phases is empty; add at least one phase, e.g. \"build: {commands: [make]}\"")
	}
	for _, f := range fields {
		if p, ok := d.phase(f); ok {
			found[f.key] = p
		}
	}
	var out []Phase
	for _, name := range phaseOrder {
		if p, ok := found[name]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) phase(e entry) (Phase, bool) {
	p := Phase{Name: e.key, OnFailure: OnFailureAbort}
	m, ok := d.mapping(e, "commands, finally, on-failure and runtime-versions")
	if !ok {
		return p, false
	}
	var finallyAt ast.Node
	hasRuntimes := false
	before := len(d.problems)
	for _, f := range d.fields(m, e.path, e.path+".", phaseKeys, phaseUnsupported) {
		switch f.key {
		case "commands":
			p.Commands = d.commands(f)
		case "finally":
			finallyAt = f.keyN
			p.Finally = d.commands(f)
		case "on-failure":
			p.OnFailure = d.onFailure(f)
		case "runtime-versions":
			hasRuntimes = true
			if e.key != PhaseInstall {
				d.addf(posOf(f.keyN), "%s is only allowed in the install phase; move it to phases.install", f.path)
				continue
			}
			if rv, ok := d.stringMap(f, "runtimes", func(k string) bool { return k != "" }, "name a runtime, like nodejs or python"); ok && len(rv) > 0 {
				p.RuntimeVersions = rv
			}
		}
	}
	switch {
	case len(p.Commands) == 0 && finallyAt != nil:
		d.addf(posOf(finallyAt), "%s.finally needs commands: finally runs after the phase's commands; add \"commands:\" to %s", e.path, e.path)
	case len(p.Commands) == 0 && !hasRuntimes && len(d.problems) == before:
		// Only when nothing else was wrong in the phase: a rejected
		// "commands" or a typo such as "comands" explains itself better.
		d.addf(posOf(e.keyN), "%s has no commands; add \"commands:\" with at least one command, e.g. \"- make\"", e.path)
	}
	return p, true
}

func (d *decoder) onFailure(e entry) string {
	s, ok := d.str(e, "allowed: "+allowedList(onFailures))
	if !ok {
		return OnFailureAbort
	}
	switch {
	case s == OnFailureAbort || s == OnFailureContinue:
		return s
	case strings.HasPrefix(s, "RETRY"):
		// CodeBuild retries the phase; Slipway stops the build instead.
		d.warnf(posOf(e.value), "%s %s is not supported by Slipway and is treated as %s", e.path, s, OnFailureAbort)
	default:
		d.addf(posOf(e.value), "invalid %s %q; allowed: %s%s", e.path, s, allowedList(onFailures), didYouMean(s, onFailures))
	}
	return OnFailureAbort
}

// commands reads a list of shell commands. Numbers and bools are taken as
// written ("- true" is a command); a mapping is the classic buildspec
// mistake of an unquoted ": " and gets a message of its own.
func (d *decoder) commands(e entry) []string {
	items, ok := d.sequence(e, "commands", "write each command on its own line as \"- make\"")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.addf(posOf(e.value, e.keyN), "%s is empty; add at least one command, e.g. \"- make\"", e.path)
		return nil
	}
	var out []string
	for i, it := range items {
		path := fmt.Sprintf("%s[%d]", e.path, i)
		v, ok := d.resolve(it.node)
		if !ok {
			continue
		}
		switch v := v.(type) {
		case nil, *ast.NullNode:
			d.addf(posOf(it.dash, e.keyN), "%s is empty; write a command after the '-' or remove the line", path)
		case *ast.MappingNode:
			d.addf(posOf(it.node, e.keyN), "%s is a mapping, not a command: %s", path, mappingHint(v))
		case *ast.SequenceNode:
			d.addf(posOf(it.node, e.keyN), "%s is a list, not a command; write one command per \"- \" line, or quote it if the command starts with '['", path)
		default:
			s, ok := d.scalar(it.node, path, it.dash)
			if ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// mappingHint explains the classic buildspec mistake: an unquoted ": " in
// a command makes YAML read it as a mapping.
func mappingHint(m *ast.MappingNode) string {
	text := strings.TrimSpace(m.String())
	if m.IsFlowStyle && !strings.Contains(text, "\n") {
		return fmt.Sprintf("YAML reads %q as a mapping because it starts with '{'; quote the whole command, e.g. - '%s'",
			text, strings.ReplaceAll(text, "'", "''"))
	}
	if text == "" || strings.Contains(text, "\n") {
		return "YAML reads a command containing \": \" as a key and a value; quote the whole command in single quotes"
	}
	return fmt.Sprintf("YAML reads %q as a key and a value because of the \": \"; quote the whole command, e.g. - '%s'",
		text, strings.ReplaceAll(text, "'", "''"))
}

func (d *decoder) artifacts(e entry) *Artifacts {
	m, ok := d.mapping(e, "files, name, base-directory and discard-paths")
	if !ok {
		return nil
	}
	a := &Artifacts{}
	hasFiles := false
	for _, f := range d.fields(m, "artifacts", "artifacts.", artifactKeys, artifactUnsupported) {
		switch f.key {
		case "files":
			hasFiles = true
			a.Files = d.paths(f)
		case "name":
			a.Name, _ = d.str(f, "use a name like \"my-app\"")
		case "base-directory":
			a.BaseDirectory, _ = d.str(f, "use a directory like \"dist\"")
		case "discard-paths":
			a.DiscardPaths = d.yesNo(f)
		}
	}
	if !hasFiles {
		d.addLatef(posOf(m, e.keyN), "artifacts.files is required; list the files to keep, e.g. \"files: ['**/*']\"")
	}
	return a
}

func (d *decoder) paths(e entry) []string {
	items, ok := d.sequence(e, "paths", "write each path on its own line as \"- 'dist/**/*'\"")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.addf(posOf(e.value, e.keyN), "%s is empty; list at least one path, e.g. \"- '**/*'\"", e.path)
	}
	var out []string
	for i, it := range items {
		if s, ok := d.scalar(it.node, fmt.Sprintf("%s[%d]", e.path, i), it.dash); ok {
			out = append(out, s)
		}
	}
	return out
}

// yesNo reads CodeBuild's yes/no flags, accepting YAML bools too.
func (d *decoder) yesNo(e entry) bool {
	v, ok := d.resolve(e.value)
	if !ok {
		return false
	}
	if b, isBool := v.(*ast.BoolNode); isBool {
		return b.Value
	}
	if s, isStr := v.(*ast.StringNode); isStr {
		switch s.Value {
		case "yes":
			return true
		case "no":
			return false
		}
		d.addf(posOf(e.value), "invalid %s %q; allowed: yes, no", e.path, s.Value)
		return false
	}
	d.addf(posOf(e.value, e.keyN), "%s must be yes or no, got %s", e.path, kind(v))
	return false
}
