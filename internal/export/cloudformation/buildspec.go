package cloudformation

import (
	"fmt"
	"strings"
)

// runner runs a Slipway buildspec (build.yml or release.yml) on
// CodeBuild as Slipway runs it locally (internal/pipeline.RunPhases):
// the phases in order, each as one `sh -e` script with the buildspec's
// env.variables over the injected ones, finally commands always, and
// on-failure CONTINUE going on. A missing file is nothing to run. It is
// Python because CodeBuild's standard image has python3 (and pip for
// PyYAML), not because Slipway needs it anywhere else.
const runner = `import os, subprocess, sys
import yaml
path = sys.argv[1]
if not os.path.exists(path):
    print("slipway: no %s in the source, nothing to run" % path)
    sys.exit(0)
def text(v):
    # YAML reads "false" or "5" as a bool or a number; a command is text.
    return str(v).lower() if isinstance(v, bool) else str(v)
spec = yaml.safe_load(open(path)) or {}
env = dict(os.environ)
section = spec.get("env") or {}
for k, v in (section.get("variables") or {}).items():
    env[str(k)] = text(v)
shell = section.get("shell") or "sh"
phases = spec.get("phases") or {}
for name in ("install", "pre_build", "build", "post_build"):
    phase = phases.get(name) or {}
    commands = phase.get("commands") or []
    if not commands:
        continue
    print("slipway: %s phase %s" % (path, name), flush=True)
    rc = subprocess.call([shell, "-e", "-x", "-c", "\n".join(map(text, commands))], env=env)
    final = phase.get("finally") or []
    if final:
        subprocess.call([shell, "-e", "-x", "-c", "\n".join(map(text, final))], env=env)
    if rc != 0 and phase.get("on-failure", "ABORT") != "CONTINUE":
        sys.exit(rc)
`

// runnerCommand writes the runner to /tmp as one buildspec command.
func runnerCommand() string {
	return "cat > /tmp/slipway-runspec.py <<'PY'\n" + runner + "PY\n"
}

// buildspecYAML renders an inline buildspec: install PyYAML, log in to
// ECR, then the build commands. Commands are YAML block scalars, so they
// need no quoting.
func buildspecYAML(commands ...string) string {
	var b strings.Builder
	b.WriteString("version: 0.2\nphases:\n  install:\n    commands:\n      - pip3 install --quiet pyyaml\n")
	b.WriteString("  build:\n    commands:\n")
	all := append([]string{
		`aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$ECR_ENDPOINT"`,
		runnerCommand(),
	}, commands...)
	for _, c := range all {
		b.WriteString("      - |\n")
		for _, line := range strings.Split(strings.TrimSuffix(c, "\n"), "\n") {
			if line == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("        " + line + "\n")
		}
	}
	return b.String()
}

// buildSpec is the build project's buildspec: Slipway's build, which
// runs build.yml's phases, then builds the image from the Dockerfile and
// pushes it as :latest and the source version (TinyStacks' tags).
func buildSpec(dockerfile string) string {
	return buildspecYAML(
		"python3 /tmp/slipway-runspec.py build.yml",
		fmt.Sprintf(`TAG=$(echo "${CODEBUILD_RESOLVED_SOURCE_VERSION:-$CODEBUILD_BUILD_NUMBER}" | tr -c 'A-Za-z0-9_.\n-' '-' | cut -c1-128)
docker build -f %q -t "$ECR_IMAGE_URL:latest" -t "$ECR_IMAGE_URL:$TAG" .
docker push "$ECR_IMAGE_URL:latest"
docker push "$ECR_IMAGE_URL:$TAG"`, dockerfile),
	)
}

// releaseSpec is a stage's release project's buildspec: Slipway's
// release, which runs release.yml (if the source has one), retags the
// previous stage's image as the stage's in ECR, and rolls the stage out:
// a new ECS deployment, or new Lambda code (published and aliased when
// the stage keeps instances warm).
func releaseSpec() string {
	return buildspecYAML("python3 /tmp/slipway-runspec.py release.yml", releaseRetag, releaseECS, releaseLambda)
}

// The release's steps after release.yml. A stage whose template is not
// deployed yet is only tagged: its stack can be created only once the
// image it names exists, so the first pipeline run tags every stage and
// the stage templates are created after it.
const (
	releaseRetag = `MANIFEST=$(aws ecr batch-get-image --repository-name "$SERVICE_REPOSITORY" --image-ids imageTag="$PREVIOUS_STAGE_NAME" --query 'images[0].imageManifest' --output text)
aws ecr put-image --repository-name "$SERVICE_REPOSITORY" --image-tag "$STAGE_NAME" --image-manifest "$MANIFEST" 2>/tmp/put-image.err || grep -q ImageAlreadyExistsException /tmp/put-image.err`
	releaseECS = `if [ -n "$CLUSTER_ARN" ]; then
  if [ "$(aws ecs describe-services --cluster "$CLUSTER_ARN" --services "$SERVICE_NAME" --query 'length(services[?status==` + "`ACTIVE`" + `])' --output text 2>/dev/null)" = "1" ]; then
    aws ecs update-service --cluster "$CLUSTER_ARN" --service "$SERVICE_NAME" --force-new-deployment
    aws ecs wait services-stable --cluster "$CLUSTER_ARN" --services "$SERVICE_NAME"
  else
    echo "slipway: the ECS service $SERVICE_NAME does not exist yet: the image is tagged $STAGE_NAME; create the stage's stack from $SLIPWAY_STACK-$STAGE_NAME.json"
  fi
fi`
	releaseLambda = `if [ -n "$LAMBDA_FUNCTION_NAME" ]; then
  if aws lambda get-function --function-name "$LAMBDA_FUNCTION_NAME" >/dev/null 2>&1; then
    aws lambda update-function-code --function-name "$LAMBDA_FUNCTION_NAME" --image-uri "$ECR_IMAGE_URL:$STAGE_NAME"
    aws lambda wait function-updated --function-name "$LAMBDA_FUNCTION_NAME"
    if [ -n "$LAMBDA_ALIAS" ]; then
      VERSION=$(aws lambda publish-version --function-name "$LAMBDA_FUNCTION_NAME" --query Version --output text)
      aws lambda update-alias --function-name "$LAMBDA_FUNCTION_NAME" --name "$LAMBDA_ALIAS" --function-version "$VERSION"
    fi
  else
    echo "slipway: the Lambda function $LAMBDA_FUNCTION_NAME does not exist yet: the image is tagged $STAGE_NAME; create the stage's stack from $SLIPWAY_STACK-$STAGE_NAME.json"
  fi
fi`
)
