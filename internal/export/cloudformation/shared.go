package cloudformation

import (
	"encoding/json"
	"fmt"

	"github.com/slipwayhq/slipway/internal/core"
)

// keepImages is how many images the ECR lifecycle policy keeps.
const keepImages = 25

// Parameters of the shared template.
const (
	paramSourceKey = "SourceObjectKey"
)

// sharedTemplate is the stack's template shared by its stages: the ECR
// repository, the artifact bucket, and the pipeline (source zip in the
// bucket → build.yml → each stage's release, with approvals).
func sharedTemplate(spec core.StackSpec, buildVars map[string]string) *template {
	name := spec.Name
	t := newTemplate(fmt.Sprintf("Slipway stack %s: image repository and build and release pipeline shared by its stages", name))
	t.metadata["Stack"] = name
	t.param(paramSourceKey, obj{"Type": "String", "Default": name + "/source.zip",
		"Description": "The source archive in the artifact bucket that starts the pipeline (upload a zip of the repository)"})
	lifecycle, _ := json.Marshal(map[string]any{"rules": []any{map[string]any{
		"rulePriority": 1, "description": fmt.Sprintf("keep the newest %d images", keepImages),
		"selection": map[string]any{"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keepImages},
		"action":    map[string]any{"type": "expire"},
	}}})
	t.add("Repository", "AWS::ECR::Repository", obj{
		"RepositoryName":             name,
		"ImageScanningConfiguration": obj{"ScanOnPush": true},
		"LifecyclePolicy":            obj{"LifecyclePolicyText": string(lifecycle)},
		"Tags":                       tags(name, ""),
	})
	t.add("ArtifactBucket", "AWS::S3::Bucket", obj{
		// The pipeline's S3 source needs versioning.
		"VersioningConfiguration": obj{"Status": "Enabled"},
		"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true,
			"IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		"BucketEncryption": obj{"ServerSideEncryptionConfiguration": list{obj{
			"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "AES256"}}}},
		"Tags": tags(name, ""),
	}, obj{"DeletionPolicy": "Retain"})

	addRoles(t)
	addPipeline(t, spec, buildVars)
	t.add("FailedBuildsAlarm", "AWS::CloudWatch::Alarm", obj{
		"AlarmName": name + "-build-failed", "AlarmDescription": "Slipway built-in alarm build-failed: a build of the stack failed",
		"Namespace": "AWS/CodeBuild", "MetricName": "FailedBuilds", "Statistic": "Sum",
		"Dimensions":         list{obj{"Name": "ProjectName", "Value": ref("BuildProject")}},
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1, "Period": 300, "EvaluationPeriods": 1,
		"TreatMissingData": "notBreaching",
	})
	t.output("RepositoryUri", "The stack's image repository", getAtt("Repository", "RepositoryUri"))
	t.output("ArtifactBucketName", "Upload the source zip here (key: the SourceObjectKey parameter)", ref("ArtifactBucket"))
	t.output("PipelineName", "The build and release pipeline", ref("Pipeline"))
	return t
}

// addRoles adds the IAM roles of CodeBuild (build, push, retag, roll out
// ECS or Lambda) and CodePipeline.
func addRoles(t *template) {
	t.add("BuildRole", "AWS::IAM::Role", obj{
		"AssumeRolePolicyDocument": assumeRole("codebuild.amazonaws.com"),
		"Policies": list{policy("BuildAndRelease",
			obj{"Action": list{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": "*"},
			obj{"Action": list{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}, "Resource": sub("${ArtifactBucket.Arn}/*")},
			obj{"Action": list{"ecr:GetAuthorizationToken"}, "Resource": "*"},
			obj{"Action": list{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
				"ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"},
				"Resource": getAtt("Repository", "Arn")},
			obj{"Action": list{"ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:UpdateService",
				"lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:PublishVersion", "lambda:TagResource",
				"lambda:UpdateAlias", "lambda:UpdateFunctionCode"}, "Resource": "*"},
			obj{"Action": list{"iam:PassRole"}, "Resource": "*", "Condition": obj{"StringEquals": obj{"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
		)},
	})
	t.add("PipelineRole", "AWS::IAM::Role", obj{
		"AssumeRolePolicyDocument": assumeRole("codepipeline.amazonaws.com"),
		"Policies": list{policy("Pipeline",
			obj{"Action": list{"s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
				"Resource": list{getAtt("ArtifactBucket", "Arn"), sub("${ArtifactBucket.Arn}/*")}},
			obj{"Action": list{"codebuild:BatchGetBuilds", "codebuild:StartBuild"}, "Resource": "*"},
		)},
	})
}

// addPipeline adds the build project, a release project per stage, and
// the pipeline that runs them: source zip → build → each stage in order,
// after its approval where it asks for one. The projects get TinyStacks'
// variables; the stages' resources are found by their fixed names.
func addPipeline(t *template, spec core.StackSpec, buildVars map[string]string) {
	name := spec.Name
	ecrEndpoint := sub("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}")
	ecrImage := sub("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/" + name)
	common := func() list {
		return list{
			envVar("S3_BUCKET", ref("ArtifactBucket")), envVar("ECR_ENDPOINT", ecrEndpoint),
			envVar("ECR_IMAGE_URL", ecrImage), envVar("SLIPWAY_STACK", name), envVar("SERVICE_REPOSITORY", name),
		}
	}
	buildEnv := common()
	for _, k := range sortedKeys(buildVars) {
		buildEnv = append(buildEnv, envVar(k, buildVars[k]))
	}
	buildEnv = append(buildEnv, envVar("SERVICE_NAME", name), envVar("STAGE_NAME", spec.FirstStage()), envVar("PREVIOUS_STAGE_NAME", "latest"))
	dockerfile := spec.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = core.DefaultDockerfile
	}
	t.add("BuildProject", "AWS::CodeBuild::Project", project(name+"-build", "build.yml, then the image", buildSpec(dockerfile), buildEnv))

	stages := list{
		obj{"Name": "Source", "Actions": list{obj{
			"Name": "Source", "ActionTypeId": actionType("Source", "S3"),
			"Configuration":   obj{"S3Bucket": ref("ArtifactBucket"), "S3ObjectKey": ref(paramSourceKey), "PollForSourceChanges": "true"},
			"OutputArtifacts": list{obj{"Name": "Source"}},
		}}},
		obj{"Name": "Build", "Actions": list{obj{
			"Name": "Build", "ActionTypeId": actionType("Build", "CodeBuild"),
			"Configuration":  obj{"ProjectName": ref("BuildProject")},
			"InputArtifacts": list{obj{"Name": "Source"}},
		}}},
	}
	ids := uniqueIDs("Release", stageNames(spec))
	previous := "latest"
	for _, st := range spec.Stages {
		res := resourceName(name, st.Name)
		env := common()
		env = append(env, envVar("STAGE_NAME", st.Name), envVar("PREVIOUS_STAGE_NAME", previous),
			envVar("STAGE_REGION", ref("AWS::Region")))
		if spec.Architecture == core.ArchServerless {
			env = append(env, envVar("LAMBDA_FUNCTION_NAME", res),
				envVar("LAMBDA_FUNCTION_ARN", sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"+res)))
			if st.EffectiveServerless().MinInstances > 0 {
				env = append(env, envVar("LAMBDA_ALIAS", liveAlias))
			}
		} else {
			env = append(env, envVar("CLUSTER_ARN", sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/"+res)),
				envVar("SERVICE_NAME", res))
		}
		t.add(ids[st.Name], "AWS::CodeBuild::Project", project(res+"-release", "release.yml, then the release to stage "+st.Name, releaseSpec(), env))
		actions := list{}
		if st.Approval {
			actions = append(actions, obj{"Name": "Approve", "ActionTypeId": actionType("Approval", "Manual"), "RunOrder": 1})
		}
		actions = append(actions, obj{
			"Name": "Release", "ActionTypeId": actionType("Build", "CodeBuild"), "RunOrder": 2,
			"Configuration":  obj{"ProjectName": ref(ids[st.Name])},
			"InputArtifacts": list{obj{"Name": "Source"}},
		})
		stages = append(stages, obj{"Name": "Stage-" + st.Name, "Actions": actions})
		previous = st.Name
	}
	t.add("Pipeline", "AWS::CodePipeline::Pipeline", obj{
		"Name": name, "RoleArn": getAtt("PipelineRole", "Arn"),
		"ArtifactStore": obj{"Type": "S3", "Location": ref("ArtifactBucket")},
		"Stages":        stages,
	})
}

func stageNames(spec core.StackSpec) []string {
	out := make([]string, len(spec.Stages))
	for i, st := range spec.Stages {
		out[i] = st.Name
	}
	return out
}

func envVar(name string, value any) obj {
	return obj{"Name": name, "Value": value, "Type": "PLAINTEXT"}
}

func actionType(category, provider string) obj {
	return obj{"Category": category, "Owner": "AWS", "Provider": provider, "Version": "1"}
}

// project is a CodeBuild project run by the pipeline, with Docker
// (privileged) for image builds.
func project(name, what string, buildspec any, env list) obj {
	return obj{
		"Name": name, "Description": "Slipway: " + what,
		"ServiceRole": getAtt("BuildRole", "Arn"),
		"Source":      obj{"Type": "CODEPIPELINE", "BuildSpec": buildspec},
		"Artifacts":   obj{"Type": "CODEPIPELINE"},
		"Environment": obj{"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
			"Image": "aws/codebuild/standard:7.0", "PrivilegedMode": true, "EnvironmentVariables": env},
		"LogsConfig": obj{"CloudWatchLogs": obj{"Status": "ENABLED"}},
	}
}
