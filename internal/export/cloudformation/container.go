package cloudformation

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/slipwayhq/slipway/internal/core"
)

// fargateSize maps a vCPU and memory (MB) to the smallest valid Fargate
// combination that has at least as much of both: CPU units and MB, as a
// task definition takes them. Slipway validates scale specs against the
// same table (core.MemoryFor), so this only rounds up specs stored
// before that check.
func fargateSize(cpu float64, memoryMB int) (units, mb int) {
	for _, c := range core.CPUs {
		if c < cpu {
			continue
		}
		for _, m := range core.MemoryFor(c) {
			if m >= memoryMB {
				return int(c * 1024), m
			}
		}
	}
	last := core.CPUs[len(core.CPUs)-1]
	mems := core.MemoryFor(last)
	return int(last * 1024), mems[len(mems)-1]
}

const containerName = "app"

// container builds an ECS on Fargate stage: cluster, task definition,
// service with the circuit breaker, CPU target tracking, and the
// endpoint in front.
func (b *stage) container(ep core.EndpointSpec) error {
	t, spec := b.t, b.stack.Spec
	sc := b.st.Spec.EffectiveScale()
	net := addNetwork(t, ep.Kind == core.EndpointBalancer, true)
	b.logGroup("/slipway/" + spec.Name + "/" + b.st.Spec.Name)
	t.add("Cluster", "AWS::ECS::Cluster", obj{
		"ClusterName":     b.name,
		"ClusterSettings": list{obj{"Name": "containerInsights", "Value": "enabled"}},
		"Tags":            tags(spec.Name, b.st.Spec.Name),
	})
	exec := obj{
		"AssumeRolePolicyDocument": assumeRole("ecs-tasks.amazonaws.com"),
		"ManagedPolicyArns":        list{sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")},
	}
	if len(b.secret) > 0 {
		exec["Policies"] = list{policy("ReadSecrets", obj{"Action": list{"secretsmanager:GetSecretValue"}, "Resource": b.secretARNs()})}
	}
	t.add("ExecutionRole", "AWS::IAM::Role", exec)
	t.add("TaskRole", "AWS::IAM::Role", obj{"AssumeRolePolicyDocument": assumeRole("ecs-tasks.amazonaws.com")})

	units, mb := fargateSize(sc.CPU, sc.MemoryMB)
	if units != int(sc.CPU*1024) || mb != sc.MemoryMB {
		t.warn("cpu %g and memory %d MB are not a Fargate combination: rounded up to %d CPU units and %d MB", sc.CPU, sc.MemoryMB, units, mb)
	}
	envs := list{}
	for _, k := range sortedKeys(b.env) {
		envs = append(envs, obj{"Name": k, "Value": b.env[k]})
	}
	secrets := list{}
	for _, k := range sortedKeys(b.secret) {
		secrets = append(secrets, obj{"Name": k, "ValueFrom": ref(b.secret[k])})
	}
	c := obj{
		"Name": containerName, "Image": b.image, "Essential": true,
		"PortMappings": list{obj{"ContainerPort": spec.Port, "Protocol": "tcp"}},
		"Environment":  envs,
		"LogConfiguration": obj{"LogDriver": "awslogs", "Options": obj{
			"awslogs-group": ref("LogGroup"), "awslogs-region": ref("AWS::Region"), "awslogs-stream-prefix": b.st.Spec.Name,
		}},
		// Fargate's stopTimeout is 2-120 s: SIGTERM to SIGKILL, as stop_grace.
		"StopTimeout": seconds(sc.StopGrace, 2, 120),
	}
	if len(secrets) > 0 {
		c["Secrets"] = secrets
	}
	t.add("TaskDefinition", "AWS::ECS::TaskDefinition", obj{
		"Family": b.name, "Cpu": strconv.Itoa(units), "Memory": strconv.Itoa(mb),
		"NetworkMode": "awsvpc", "RequiresCompatibilities": list{"FARGATE"},
		"ExecutionRoleArn": getAtt("ExecutionRole", "Arn"), "TaskRoleArn": getAtt("TaskRole", "Arn"),
		"ContainerDefinitions": list{c},
		"Tags":                 tags(spec.Name, b.st.Spec.Name),
	})

	svc := obj{
		"ServiceName": b.name, "Cluster": ref("Cluster"), "TaskDefinition": ref("TaskDefinition"),
		"LaunchType": "FARGATE", "DesiredCount": sc.Min,
		"DeploymentConfiguration": obj{
			"DeploymentCircuitBreaker": obj{"Enable": true, "Rollback": true},
			"MinimumHealthyPercent":    100, "MaximumPercent": 200,
		},
		"NetworkConfiguration": obj{"AwsvpcConfiguration": obj{
			"AssignPublicIp": "DISABLED", "Subnets": net.private, "SecurityGroups": list{ref("ServiceSecurityGroup")},
		}},
		"PropagateTags": "SERVICE",
		"Tags":          tags(spec.Name, b.st.Spec.Name),
	}
	var dependsOn string
	switch ep.Kind {
	case core.EndpointBalancer:
		dependsOn = b.containerBalancer(ep.Balancer, net, sc, svc)
	default:
		dependsOn = b.containerGateway(ep.Gateway, net, svc)
	}
	t.add("Service", "AWS::ECS::Service", svc, obj{"DependsOn": dependsOn})
	b.autoscaling(sc)
	return nil
}

// serviceSecurityGroup lets the front end reach the app port: from the
// load balancer's group, or (VPC link) from the VPC.
func (b *stage) serviceSecurityGroup(net network, from obj) {
	rule := obj{"IpProtocol": "tcp", "FromPort": b.stack.Spec.Port, "ToPort": b.stack.Spec.Port}
	for k, v := range from {
		rule[k] = v
	}
	b.t.add("ServiceSecurityGroup", "AWS::EC2::SecurityGroup", obj{
		"GroupDescription":     fmt.Sprintf("Instances of %s: the app port from the endpoint only", b.name),
		"VpcId":                net.vpc,
		"SecurityGroupIngress": list{rule},
	})
}

// autoscaling adds CPU target tracking with the stage's target, bounds
// and cooldowns.
func (b *stage) autoscaling(sc core.ScaleSpec) {
	b.t.add("ScalableTarget", "AWS::ApplicationAutoScaling::ScalableTarget", obj{
		"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
		"ResourceId":  sub("service/${Cluster}/${Service.Name}"),
		"MinCapacity": sc.Min, "MaxCapacity": sc.Max,
	})
	b.t.add("CPUScalingPolicy", "AWS::ApplicationAutoScaling::ScalingPolicy", obj{
		"PolicyName": b.name + "-cpu", "PolicyType": "TargetTrackingScaling",
		"ScalingTargetId": ref("ScalableTarget"),
		"TargetTrackingScalingPolicyConfiguration": obj{
			"TargetValue":                   sc.CPUTarget,
			"ScaleOutCooldown":              int(sc.ScaleOutCooldown.D().Seconds()),
			"ScaleInCooldown":               int(sc.ScaleInCooldown.D().Seconds()),
			"PredefinedMetricSpecification": obj{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
		},
	})
}

// healthPath is the path the front end probes.
func (b *stage) healthPath(sc core.ScaleSpec) string {
	if sc.Health.Path != "" {
		return sc.Health.Path
	}
	if b.stack.Spec.Health.Path != "" {
		return b.stack.Spec.Health.Path
	}
	return core.DefaultHealthPath
}

// clamp bounds n to [lo, hi].
func clamp(n, lo, hi int) int { return slices.Max([]int{lo, slices.Min([]int{n, hi})}) }
