// Package cloudformation exports a stack as AWS CloudFormation templates:
// one shared template (ECR repository, artifact bucket, CodePipeline with
// CodeBuild projects running build.yml and release.yml) and one template
// per stage (VPC or given subnets, ECS on Fargate or Lambda, an ALB or an
// API Gateway HTTP API, autoscaling, schedules, CloudWatch alarms).
//
// It is a pure translator from export.Stack to JSON: keys are sorted, so
// the output is byte-for-byte stable and golden-tested. What the target
// cannot express (API keys and usage plans, which need a REST API; alarm
// metrics without a CloudWatch equivalent) is left out and listed as a
// warning in the template's Metadata and in File.Warnings. It never
// talks to AWS. Package lint validates its output in tests.
package cloudformation
