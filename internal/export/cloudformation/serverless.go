package cloudformation

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/slipwayhq/slipway/internal/core"
)

// liveAlias is the alias a stage with provisioned concurrency serves.
const liveAlias = "live"

// serverless builds a Lambda stage: the function from the image, its
// concurrency, and an HTTP API or an ALB target in front, plus the
// stage's schedules.
func (b *stage) serverless(ep core.EndpointSpec) error {
	t, spec := b.t, b.stack.Spec
	sl := b.st.Spec.EffectiveServerless()
	b.logGroup("/aws/lambda/" + b.name)
	role := obj{
		"AssumeRolePolicyDocument": assumeRole("lambda.amazonaws.com"),
		"ManagedPolicyArns":        list{sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")},
	}
	t.add("FunctionRole", "AWS::IAM::Role", role)
	vars := obj{}
	for k, v := range b.env {
		vars[k] = v
	}
	if sl.Handler != core.HandlerLambda {
		// An http handler runs its web server under the AWS Lambda Web
		// Adapter (an extension the image must carry, as TinyStacks'
		// templates did); these tell it the port and readiness path.
		vars["AWS_LWA_PORT"] = strconv.Itoa(spec.Port)
		vars["AWS_LWA_READINESS_CHECK_PATH"] = b.healthPath(core.ScaleSpec{})
		t.warn("handler http: the image must include the AWS Lambda Web Adapter extension (/opt/extensions/lambda-adapter) to serve HTTP on Lambda")
	}
	for _, k := range sortedKeys(b.secret) {
		// Lambda has no secrets in its environment: a dynamic reference
		// resolves the secret when the stack deploys.
		vars[k] = sub("{{resolve:secretsmanager:${" + b.secret[k] + "}}}")
	}
	if len(b.secret) > 0 {
		t.warn("secret variables are resolved into the Lambda function's environment at deploy time (visible to whoever may read the function's configuration)")
	}
	t.add("Function", "AWS::Lambda::Function", obj{
		"FunctionName": b.name, "PackageType": "Image", "Code": obj{"ImageUri": b.image},
		"Role":       getAtt("FunctionRole", "Arn"),
		"MemorySize": sl.MemoryMB, "Timeout": seconds(sl.Timeout, 1, 900),
		// Reserved concurrency caps Lambda's instances, as max_instances
		// caps Slipway's (each Lambda instance serves one request).
		"ReservedConcurrentExecutions": sl.MaxInstances,
		"Environment":                  obj{"Variables": vars},
		"LoggingConfig":                obj{"LogGroup": ref("LogGroup")},
		"Tags":                         tags(spec.Name, b.st.Spec.Name),
	}, obj{"DependsOn": "LogGroup"})
	if sl.Concurrency > 1 {
		t.warn("concurrency %d is not carried over: a Lambda instance serves one request at a time, so at most max_instances (%d) requests are in flight", sl.Concurrency, sl.MaxInstances)
	}
	// What callers invoke: with min_instances, an alias with provisioned
	// concurrency (the release pipeline publishes each release as a
	// version and moves the alias to it, the warm instances with it);
	// else the function ($LATEST).
	target := any(getAtt("Function", "Arn"))
	if sl.MinInstances > 0 {
		t.add("FunctionVersion", "AWS::Lambda::Version", obj{"FunctionName": ref("Function")})
		t.add("FunctionAlias", "AWS::Lambda::Alias", obj{
			"FunctionName": ref("Function"), "Name": liveAlias,
			"FunctionVersion":              getAtt("FunctionVersion", "Version"),
			"ProvisionedConcurrencyConfig": obj{"ProvisionedConcurrentExecutions": sl.MinInstances},
		})
		target = ref("FunctionAlias")
	}
	switch ep.Kind {
	case core.EndpointBalancer:
		net := addNetwork(t, true, false)
		b.loadBalancer(ep.Balancer, net)
		t.add("LoadBalancerPermission", "AWS::Lambda::Permission", obj{
			"Action": "lambda:InvokeFunction", "FunctionName": target, "Principal": "elasticloadbalancing.amazonaws.com",
		})
		t.add("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", obj{
			"TargetType": "lambda", "Targets": list{obj{"Id": target}}, "HealthCheckEnabled": false,
			"Tags": tags(spec.Name, b.st.Spec.Name),
		}, obj{"DependsOn": "LoadBalancerPermission"})
	default:
		payload := sl.Payload
		if sl.Handler != core.HandlerLambda || payload == "" {
			payload = core.PayloadV2
		}
		b.httpAPI(ep.Gateway, obj{
			"IntegrationType": "AWS_PROXY", "IntegrationUri": target, "PayloadFormatVersion": payload,
		})
		t.add("ApiPermission", "AWS::Lambda::Permission", obj{
			"Action": "lambda:InvokeFunction", "FunctionName": target, "Principal": "apigateway.amazonaws.com",
			"SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"),
		})
	}
	return b.schedules(sl, target)
}

// schedules turns the stage's schedules into EventBridge Scheduler
// schedules invoking the function. A lambda handler gets a scheduled
// event; an http handler's request (method, path, body) travels as the
// event's detail, which the Lambda Web Adapter posts to its pass-through
// path.
func (b *stage) schedules(sl core.ServerlessSpec, target any) error {
	if len(sl.Schedules) == 0 {
		return nil
	}
	t := b.t
	t.add("SchedulerRole", "AWS::IAM::Role", obj{
		"AssumeRolePolicyDocument": assumeRole("scheduler.amazonaws.com"),
		"Policies": list{policy("InvokeFunction", obj{"Action": list{"lambda:InvokeFunction"},
			"Resource": list{getAtt("Function", "Arn"), sub("${Function.Arn}:*")}})},
	})
	for i, s := range sl.Schedules {
		detail := map[string]string{}
		if sl.Handler != core.HandlerLambda {
			method := s.Method
			if method == "" {
				method = "GET"
			}
			path := s.Path
			if path == "" {
				path = "/"
			}
			detail = map[string]string{"method": method, "path": path}
			if s.Body != "" {
				detail["body"] = s.Body
			}
		}
		input, err := json.Marshal(map[string]any{
			"source": "slipway.schedule", "detail-type": "Scheduled Event", "detail": detail,
		})
		if err != nil {
			return err
		}
		t.add(fmt.Sprintf("Schedule%d", i+1), "AWS::Scheduler::Schedule", obj{
			"Description":        fmt.Sprintf("%s: %s", b.name, s.Expression),
			"ScheduleExpression": s.Expression, "State": "ENABLED",
			"FlexibleTimeWindow": obj{"Mode": "OFF"},
			"Target":             obj{"Arn": target, "RoleArn": getAtt("SchedulerRole", "Arn"), "Input": string(input)},
		})
	}
	return nil
}
