package cloudformation

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

// Exporter writes CloudFormation templates.
type Exporter struct{}

var _ export.Exporter = Exporter{}

// Name is the format's name for `slipway export --format`.
func (Exporter) Name() string { return "cloudformation" }

// Export returns the shared template (<stack>-shared.json) and one
// template per stage asked for (<stack>-<stage>.json).
func (Exporter) Export(s export.Stack, opts export.Options) ([]export.File, error) {
	if err := core.ValidateStackName(s.Spec.Name); err != nil {
		return nil, fmt.Errorf("export cloudformation: %w", err)
	}
	var files []export.File
	shared := sharedTemplate(s.Spec, s.BuildVars)
	f, err := file(s.Spec.Name+"-shared.json", shared)
	if err != nil {
		return nil, err
	}
	files = append(files, f)
	for _, st := range s.Stages {
		t, err := stageTemplate(s, st, opts)
		if err != nil {
			return nil, fmt.Errorf("export stage %s: %w", st.Spec.Name, err)
		}
		f, err := file(s.Spec.Name+"-"+st.Spec.Name+".json", t)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func file(name string, t *template) (export.File, error) {
	data, err := t.marshal()
	if err != nil {
		return export.File{}, fmt.Errorf("%s: %w", name, err)
	}
	return export.File{Name: name, Data: data, Warnings: append([]string(nil), sortedWarnings(t)...)}, nil
}

func sortedWarnings(t *template) []string {
	w := append([]string(nil), t.warnings...)
	slices.Sort(w)
	return w
}

// Names the stage's AWS resources get, fixed so that the shared
// pipeline's release actions can name them without cross-stack imports.
func resourceName(stack, stage string) string { return stack + "-" + stage }

// stage is what the per-stage builders share.
type stage struct {
	t      *template
	stack  export.Stack
	st     export.Stage
	name   string // <stack>-<stage>
	opts   export.Options
	image  obj               // the image URI in ECR
	env    map[string]string // plain variables, PORT included
	secret map[string]string // variable name → logical ID of its Secrets Manager secret
}

// Parameters of a stage template.
const paramImageTag = "ImageTag"

// stageTemplate builds one stage's template.
func stageTemplate(s export.Stack, st export.Stage, opts export.Options) (*template, error) {
	if err := core.ValidateStageName(st.Spec.Name); err != nil {
		return nil, err
	}
	arch := s.Spec.Architecture
	ep := st.Spec.EffectiveEndpoint()
	t := newTemplate(fmt.Sprintf("Slipway stack %s, stage %s: %s architecture behind the %s endpoint", s.Spec.Name, st.Spec.Name, arch, ep.Kind))
	b := &stage{t: t, stack: s, st: st, name: resourceName(s.Spec.Name, st.Spec.Name), opts: opts}
	t.param(paramImageTag, obj{"Type": "String", "Default": st.Spec.Name,
		"Description": "The tag of the stack's ECR repository this stage runs (the release pipeline retags each release as the stage's name)"})
	b.image = obj{"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/" + s.Spec.Name + ":${" + paramImageTag + "}"}
	t.metadata["Stack"] = s.Spec.Name
	t.metadata["Stage"] = st.Spec.Name
	if st.Image != "" {
		t.metadata["SlipwayImage"] = st.Image
	}
	if len(st.Domains) > 0 {
		t.metadata["Domains"] = st.Domains
		t.warn("custom domains (%d) are not created: point them at the EndpointURL output with an ACM certificate and a Route 53 record", len(st.Domains))
	}
	for _, r := range st.Spec.Routes {
		to := "stage " + r.Stage
		if r.Stack != "" {
			to += " of stack " + r.Stack
		}
		t.warn("route %s to %s is not carried over: add a route (API Gateway) or listener rule (ALB) to that stage's endpoint", r.Path, to)
	}
	if !st.Spec.Network.EgressAllowed() {
		t.warn("network.egress: false is not carried over: the instances' subnets route out through the NAT gateway (remove the private route to cut them off)")
	}
	if st.Spec.Network.Attach != "" {
		t.warn("network.attach %s is not carried over: give the VPC and subnets to join as parameters", st.Spec.Network.Attach)
	}
	b.env = map[string]string{"PORT": strconv.Itoa(s.Spec.Port)}
	for k, v := range st.Env {
		b.env[k] = v
	}
	b.addSecrets()
	var err error
	switch arch {
	case core.ArchServerless:
		err = b.serverless(ep)
	case core.ArchContainer, "":
		err = b.container(ep)
	default:
		err = fmt.Errorf("architecture %q is not one of container, serverless", arch)
	}
	if err != nil {
		return nil, err
	}
	b.alarms(ep)
	return t, nil
}

// addSecrets makes a Secrets Manager secret per secret variable. Its
// value comes from a NoEcho parameter: without --include-secrets the
// parameter has no default and must be given at deploy time; with it,
// the default is the value (and so is in the template: keep it safe).
func (b *stage) addSecrets() {
	b.secret = map[string]string{}
	names := sortedKeys(b.st.Secrets)
	params := uniqueIDs("SecretValue", names)
	ids := uniqueIDs("Secret", names)
	for _, n := range names {
		p := obj{"Type": "String", "NoEcho": true, "Description": "The value of the secret variable " + n}
		if b.opts.IncludeSecrets {
			p["Default"] = b.st.Secrets[n]
		}
		b.t.param(params[n], p)
		b.t.add(ids[n], "AWS::SecretsManager::Secret", obj{
			"Name":         b.name + "/" + n,
			"Description":  fmt.Sprintf("Slipway secret variable %s of stage %s", n, b.st.Spec.Name),
			"SecretString": ref(params[n]),
			"Tags":         tags(b.stack.Spec.Name, b.st.Spec.Name),
		})
		b.secret[n] = ids[n]
	}
}

// secretARNs are the Refs of the stage's secrets (a secret's Ref is its
// ARN), for IAM policies.
func (b *stage) secretARNs() list {
	out := list{}
	for _, n := range sortedKeys(b.secret) {
		out = append(out, ref(b.secret[n]))
	}
	return out
}

// logGroup adds the stage's log group, kept 90 days.
func (b *stage) logGroup(name string) {
	b.t.add("LogGroup", "AWS::Logs::LogGroup", obj{"LogGroupName": name, "RetentionInDays": 90})
}

// seconds renders a duration as whole seconds, at least lo and at most hi.
func seconds(d core.Duration, lo, hi int) int {
	s := int(d.D().Seconds())
	return max(lo, min(hi, s))
}
