package manifest

import (
	"fmt"
	"github.com/distribution/reference"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml/ast"

	"github.com/slipwayhq/slipway/internal/core"
)

// Keys and values slipway.yml accepts. schema_test.go checks that the JSON
// schema lists exactly these, so the editor and the parser cannot drift.
var (
	stackKeys     = []string{"name", "architecture", "port", "healthcheck", "build", "scale", "serverless", "endpoint", "stages"}
	healthKeys    = []string{"path", "start_timeout"}
	buildKeys     = []string{"dockerfile", "image"}
	stageKeys     = []string{"name", "env", "approval", "scale", "serverless", "network", "endpoint", "routes"}
	architectures = []string{string(core.ArchContainer), string(core.ArchServerless)}
)

// Limits of slipway.yml values.
const (
	MinPort         = 1
	MaxPort         = 65535
	MinStartTimeout = time.Second
	MaxStartTimeout = 10 * time.Minute
)

// envNameRE is what a shell accepts as a variable name; anything else
// could not be read back with $NAME inside the container.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

const envNameRule = "use letters, digits and '_', not starting with a digit"

// Parse reads slipway.yml. filename is only used in messages ("slipway.yml"
// when empty). Keys left out get the core defaults; anything unknown,
// mistyped or out of range is an error carrying core.CodeInvalid whose
// message is one line, "file:line:col: what is wrong; what is allowed",
// followed by a count of further problems if any (see Error).
func Parse(filename string, data []byte) (core.StackSpec, error) {
	d := newDecoder(filename, "slipway.yml")
	spec := d.stack(data)
	if err := d.err(); err != nil {
		return core.StackSpec{}, err
	}
	return spec, nil
}

func defaultSpec() core.StackSpec {
	return core.StackSpec{
		Architecture: core.ArchContainer,
		Port:         core.DefaultPort,
		Health: core.HealthSpec{
			Path:         core.DefaultHealthPath,
			StartTimeout: core.Duration(core.DefaultStartTimeout),
		},
		Build:  core.BuildSpec{Dockerfile: core.DefaultDockerfile},
		Stages: []core.StageSpec{{Name: core.DefaultStage}},
	}
}

func (d *decoder) stack(data []byte) core.StackSpec {
	spec := defaultSpec()
	body, ok := d.document(data)
	if !ok {
		return spec
	}
	if body == nil {
		d.addf(docStart, "name is required: the file has no keys; start it with a line like \"name: my-app\"")
		return spec
	}
	root, ok := d.resolve(body)
	if !ok {
		return spec
	}
	if _, isMap := root.(*ast.MappingNode); !isMap {
		d.addf(posOf(body), "%s must be a mapping of keys, got %s; allowed keys: %s", d.base, kind(root), allowedList(stackKeys))
		return spec
	}
	hasName, archOK, stagesOK := false, true, true
	var top settingBlocks
	var stageBlocks []settingBlocks
	for _, e := range d.fieldsElsewhere(root, d.base, "", stackKeys, topElsewhere) {
		switch e.key {
		case "name":
			hasName = true
			if name, ok := d.str(e, "use a stack name like \"my-app\""); ok {
				if err := core.ValidateStackName(name); err != nil {
					d.addf(posOf(e.value), "%s", oneLine(err.Error()))
				}
				spec.Name = name
			}
		case "architecture":
			a, ok := d.oneOf(e, architectures)
			if ok {
				spec.Architecture = core.Architecture(a)
			}
			archOK = ok
		case "port":
			spec.Port = d.port(e)
		case "healthcheck":
			d.healthcheck(e, &spec.Health)
		case "build":
			d.build(e, &spec.Build)
		case "scale":
			top.scale = &e
		case "serverless":
			top.serverless = &e
		case "endpoint":
			top.endpoint = &e
		case "stages":
			stages, blocks, ok := d.stages(e)
			if ok {
				spec.Stages = stages
			}
			stageBlocks, stagesOK = blocks, ok
		}
	}
	d.settings(spec, archOK, top, stageBlocks)
	d.applyRoutes(spec, stagesOK, stageBlocks)
	if !hasName {
		d.addLatef(posOf(root), "name is required: %s has no name key; add a line like \"name: my-app\"", d.base)
	}
	return spec
}

// topElsewhere are keys that belong in a stage, not at the top level.
var topElsewhere = map[string]string{
	"schedules": schedulesElsewhere["schedules"],
	"routes":    "routes send paths of one stage's host elsewhere: put them under that stage (stages[].routes)",
}

// settingBlocks are the scale, serverless and endpoint blocks of the top
// level or of a stage, read once the architecture is known, and a stage's
// routes, read once every stage name is known.
type settingBlocks struct{ scale, serverless, endpoint, routes *entry }

// settings gives every stage its scale spec and, for the serverless
// architecture, its serverless spec. A block of the other architecture is
// refused as a whole: what is inside it is beside the point. When the
// architecture itself is invalid, each block is checked on its own terms.
func (d *decoder) settings(spec core.StackSpec, archOK bool, top settingBlocks, stages []settingBlocks) {
	serverless := spec.Architecture == core.ArchServerless
	useScale, useServerless := !serverless || !archOK, serverless || !archOK
	misplaced := func(e *entry) {
		if serverless {
			d.addf(posOf(e.keyN), "%s applies to the container architecture; a serverless stage's settings go under serverless:", e.path)
		} else {
			d.addf(posOf(e.keyN), "%s applies to the serverless architecture, and architecture is container; add \"architecture: serverless\", or put a container stage's settings under scale:", e.path)
		}
	}
	var topScale *scaleLayer
	var topServerless *serverlessLayer
	if e := top.scale; e != nil {
		if useScale {
			topScale = d.scale(*e)
		} else {
			misplaced(e)
		}
	}
	if e := top.serverless; e != nil {
		if useServerless {
			topServerless = d.serverless(*e, true).layer
		} else {
			misplaced(e)
		}
	}
	var scales []*scaleLayer
	var serverlesses []serverlessBlock
	for _, b := range stages {
		var sc *scaleLayer
		sl := serverlessBlock{}
		if b.scale != nil {
			if useScale {
				sc = d.scale(*b.scale)
			} else {
				misplaced(b.scale)
			}
		}
		if b.serverless != nil {
			if useServerless {
				sl = d.serverless(*b.serverless, false)
			} else {
				misplaced(b.serverless)
			}
		}
		scales = append(scales, sc)
		serverlesses = append(serverlesses, sl)
	}
	scaleRules.apply(d, len(spec.Stages), topScale, scales, func(i int, s core.ScaleSpec) { spec.Stages[i].Scale = s })
	if useServerless {
		d.applyServerless(spec.Stages, topServerless, serverlesses)
	}
	d.endpoints(spec.Stages, top.endpoint, stages)
}

// endpoints reads the endpoint blocks, of either architecture. Stages get
// an endpoint spec only when the file writes an endpoint block somewhere:
// otherwise StageSpec.Endpoint stays zero, which means the default
// (core.StageSpec.EffectiveEndpoint), and specs stored before endpoints
// existed read the same as new ones.
func (d *decoder) endpoints(stages []core.StageSpec, topE *entry, blocks []settingBlocks) {
	var top *endpointBlock
	if topE != nil {
		b := d.endpoint(*topE)
		top = &b
	}
	written := top != nil
	own := make([]*endpointBlock, len(blocks))
	for i, sb := range blocks {
		if sb.endpoint != nil {
			b := d.endpoint(*sb.endpoint)
			own[i], written = &b, true
		}
	}
	if written {
		d.applyEndpoint(stages, top, own)
	}
}

// applyRoutes reads every stage's routes, now that the stage names are
// known.
func (d *decoder) applyRoutes(spec core.StackSpec, stagesOK bool, blocks []settingBlocks) {
	var names []string
	if stagesOK {
		for _, st := range spec.Stages {
			names = append(names, st.Name)
		}
	}
	for i, b := range blocks {
		if b.routes == nil {
			continue
		}
		from := ""
		if i < len(spec.Stages) && stagesOK {
			from = spec.Stages[i].Name
		}
		routes, _ := d.routes(*b.routes, from, spec.Name, names)
		if stagesOK && len(routes) > 0 {
			spec.Stages[i].Routes = routes
		}
	}
}

// oneOf reads a string that must be one of allowed.
func (d *decoder) oneOf(e entry, allowed []string) (string, bool) {
	hint := "allowed: " + allowedList(allowed)
	s, ok := d.str(e, hint)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		d.addf(posOf(e.value), "invalid %s %q; %s%s", e.path, s, hint, didYouMean(s, allowed))
		return "", false
	}
	return s, true
}

func (d *decoder) port(e entry) int {
	hint := fmt.Sprintf("allowed: %d-%d", MinPort, MaxPort)
	p, ok := d.integer(e, hint)
	if !ok {
		return core.DefaultPort
	}
	if p < MinPort || p > MaxPort {
		d.addf(posOf(e.value), "invalid port %d; %s", p, hint)
		return core.DefaultPort
	}
	return int(p)
}

// healthcheck reads either a path ("healthcheck: /healthz") or a mapping
// with path and start_timeout.
func (d *decoder) healthcheck(e entry, h *core.HealthSpec) {
	v, ok := d.resolve(e.value)
	if !ok {
		return
	}
	switch v.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.TagNode:
		if p, ok := d.urlPath(e, healthPathHint); ok {
			h.Path, h.Explicit = p, true
		}
		return
	case *ast.MappingNode:
	default:
		d.addf(posOf(e.value, e.keyN), "healthcheck must be a path or a mapping with path and start_timeout, got %s; e.g. \"healthcheck: /healthz\"", kind(v))
		return
	}
	for _, f := range d.fields(v, "healthcheck", "healthcheck.", healthKeys, nil) {
		switch f.key {
		case "path":
			if p, ok := d.urlPath(f, healthPathHint); ok {
				h.Path, h.Explicit = p, true
			}
		case "start_timeout":
			if t, ok := d.duration(f, MinStartTimeout, MaxStartTimeout); ok {
				h.StartTimeout = core.Duration(t)
			}
		}
	}
}

const healthPathHint = "use a URL path like \"/healthy\""

// urlPath reads a URL path: healthcheck.path, a stage's
// scale.health.path, a schedule's path. hint says what to write.
func (d *decoder) urlPath(e entry, hint string) (string, bool) {
	p, ok := d.str(e, hint)
	if !ok {
		return "", false
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		d.addf(posOf(e.value), "invalid %s %q: it must start with '/'; %s", e.path, p, hint)
	case strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '#' }):
		d.addf(posOf(e.value), "invalid %s %q: it contains a space, control character or '#'; %s", e.path, p, hint)
	default:
		return p, true
	}
	return "", false
}

// duration reads a Go duration string ("30s", "2m") within [lo, hi].
func (d *decoder) duration(e entry, lo, hi time.Duration) (time.Duration, bool) {
	rng := fmt.Sprintf("allowed: %s to %s", shortDuration(lo), shortDuration(hi))
	t, text, ok := d.anyDuration(e, " ("+rng+")")
	if !ok {
		return 0, false
	}
	if t < lo || t > hi {
		d.addf(posOf(e.value), "invalid %s %q: out of range; %s", e.path, text, rng)
		return 0, false
	}
	return t, true
}

// anyDuration reads a Go duration string ("30s", "2m"), leaving its range
// to the caller, and returns it as written too. after ends the message of
// a string that is no duration.
func (d *decoder) anyDuration(e entry, after string) (time.Duration, string, bool) {
	s, ok := d.str(e, "use a duration with a unit, like \"30s\" or \"2m\"")
	if !ok {
		return 0, "", false
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		d.addf(posOf(e.value), "invalid %s %q: not a duration; use a number with a unit, like \"30s\" or \"2m\"%s", e.path, s, after)
		return 0, "", false
	}
	return t, s, true
}

// shortDuration prints 10m rather than 10m0s.
func shortDuration(t time.Duration) string {
	s := t.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *decoder) build(e entry, b *core.BuildSpec) {
	m, ok := d.mapping(e, "build settings (dockerfile, image)")
	if !ok {
		return
	}
	for _, f := range d.fields(m, "build", "build.", buildKeys, nil) {
		switch f.key {
		case "dockerfile":
			if p, ok := d.dockerfile(f); ok {
				b.Dockerfile = p
			}
		case "image":
			if ref, ok := d.buildImage(f); ok {
				b.Image = ref
			}
		}
	}
}

// buildImage checks build.image is an image reference Docker accepts.
func (d *decoder) buildImage(e entry) (string, bool) {
	const hint = "name an image with the tools the build needs, like \"golang:1.26\" or \"docker:cli\""
	s, ok := d.str(e, hint)
	if !ok {
		return "", false
	}
	if s == "" {
		d.addf(posOf(e.value), "%s is empty; %s", e.path, hint)
		return "", false
	}
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		d.addf(posOf(e.value), "invalid %s %q: %v; %s", e.path, s, err, hint)
		return "", false
	}
	return s, true
}

// dockerfile checks that the path stays inside the build context: the
// context is the user's source directory, and a path out of it would read
// files of the host running Slipway.
func (d *decoder) dockerfile(e entry) (string, bool) {
	const hint = "use a path relative to the source directory, like \"Dockerfile\" or \"docker/Dockerfile\""
	p, ok := d.str(e, hint)
	if !ok {
		return "", false
	}
	at := posOf(e.value)
	slashed := strings.ReplaceAll(p, `\`, "/") // a Windows user's "..\Dockerfile" escapes too
	clean := path.Clean(p)
	switch {
	case p == "":
		d.addf(at, "%s is empty; %s", e.path, hint)
	case strings.ContainsFunc(p, unicode.IsControl):
		d.addf(at, "invalid %s %q: it contains a control character; %s", e.path, p, hint)
	case strings.HasPrefix(slashed, "/") || (len(p) >= 2 && p[1] == ':'):
		d.addf(at, "invalid %s %q: it is an absolute path; %s", e.path, p, hint)
	case escapes(clean) || escapes(path.Clean(slashed)):
		d.addf(at, "invalid %s %q: it escapes the build context; %s", e.path, p, hint)
	case clean == "." || strings.HasSuffix(p, "/"):
		d.addf(at, "invalid %s %q: it names a directory, not a file; %s", e.path, p, hint)
	default:
		return clean, true
	}
	return "", false
}

func escapes(clean string) bool { return clean == ".." || strings.HasPrefix(clean, "../") }

// stages reads the stages and, for each, its scale and serverless blocks
// (nil when it has none), read and merged with the top-level ones by
// settings.
func (d *decoder) stages(e entry) ([]core.StageSpec, []settingBlocks, bool) {
	items, ok := d.sequence(e, "stages", "write each stage as \"- name: dev\"")
	if !ok {
		return nil, nil, false
	}
	if len(items) == 0 {
		d.addf(posOf(e.value, e.keyN), "stages is empty; declare at least one stage, e.g. \"- name: dev\"")
		return nil, nil, false
	}
	var out []core.StageSpec
	var blocks []settingBlocks
	seen := map[string]pos{}
	good := true
	for i, it := range items {
		where := fmt.Sprintf("stages[%d]", i)
		st, b, ok := d.stage(entry{path: where, keyN: it.dash, value: it.node}, seen)
		good = good && ok
		out = append(out, st)
		blocks = append(blocks, b)
	}
	return out, blocks, good
}

func (d *decoder) stage(e entry, seen map[string]pos) (core.StageSpec, settingBlocks, bool) {
	var st core.StageSpec
	var b settingBlocks
	v, ok := d.resolve(e.value)
	if !ok {
		return st, b, false
	}
	if _, isMap := v.(*ast.MappingNode); !isMap {
		d.addf(posOf(e.value, e.keyN), "%s must be a mapping with name and env, got %s; write a stage as \"- name: dev\"", e.path, kind(v))
		return st, b, false
	}
	good, hasName := true, false
	elsewhere := map[string]string{"schedules": "schedules go under the stage's serverless block: " + e.path + ".serverless.schedules"}
	for _, f := range d.fieldsElsewhere(v, e.path, e.path+".", stageKeys, elsewhere) {
		switch f.key {
		case "name":
			hasName = true
			name, ok := d.str(f, "use a stage name like \"dev\"")
			if !ok {
				good = false
				continue
			}
			if err := core.ValidateStageName(name); err != nil {
				d.addf(posOf(f.value), "%s", oneLine(err.Error()))
				good = false
				continue
			}
			if first, dup := seen[name]; dup {
				d.addf(posOf(f.value), "duplicate stage %q: already declared at line %d; stage names must be unique", name, first.line)
				good = false
				continue
			}
			seen[name] = posOf(f.value)
			st.Name = name
		case "env":
			env, ok := d.stringMap(f, "environment variables", envNameRE.MatchString, envNameRule)
			good = good && ok
			if len(env) > 0 {
				st.Env = env
			}
		case "approval":
			b, ok := d.boolean(f)
			good = good && ok
			st.Approval = b
		case "scale":
			b.scale = &f
		case "serverless":
			b.serverless = &f
		case "network":
			net, ok := d.network(f)
			good = good && ok
			st.Network = net
		case "endpoint":
			b.endpoint = &f
		case "routes":
			b.routes = &f
		}
	}
	if !hasName {
		d.addLatef(posOf(v, e.value), "%s.name is required; write a stage as \"- name: dev\"", e.path)
		good = false
	}
	return st, b, good
}
