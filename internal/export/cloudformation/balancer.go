package cloudformation

import (
	"fmt"
	"strconv"

	"github.com/slipwayhq/slipway/internal/core"
)

// loadBalancer adds an internet-facing ALB in the public subnets with an
// HTTP listener forwarding to the TargetGroup, and the EndpointURL output.
func (b *stage) loadBalancer(bal core.BalancerSpec, net network) {
	t := b.t
	t.add("LoadBalancerSecurityGroup", "AWS::EC2::SecurityGroup", obj{
		"GroupDescription": fmt.Sprintf("Load balancer of %s: HTTP from anywhere", b.name),
		"VpcId":            net.vpc,
		"SecurityGroupIngress": list{
			obj{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"},
		},
	})
	idle := seconds(bal.IdleTimeout, 1, 4000)
	if bal.IdleTimeout == 0 {
		idle = int(core.DefaultIdleTimeout.Seconds())
	}
	t.add("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", obj{
		"Type": "application", "Scheme": "internet-facing",
		"Subnets": net.public, "SecurityGroups": list{ref("LoadBalancerSecurityGroup")},
		"LoadBalancerAttributes": list{obj{"Key": "idle_timeout.timeout_seconds", "Value": strconv.Itoa(idle)}},
		"Tags":                   tags(b.stack.Spec.Name, b.st.Spec.Name),
	})
	t.add("Listener", "AWS::ElasticLoadBalancingV2::Listener", obj{
		"LoadBalancerArn": ref("LoadBalancer"), "Port": 80, "Protocol": "HTTP",
		"DefaultActions": list{obj{"Type": "forward", "TargetGroupArn": ref("TargetGroup")}},
	})
	t.output("EndpointURL", "The stage's endpoint", sub("http://${LoadBalancer.DNSName}"))
}

// containerBalancer puts an ALB in front of the service: an IP target
// group probing the health path, with the balancer's algorithm,
// stickiness and deregistration delay. It returns what the service must
// wait for.
func (b *stage) containerBalancer(bal core.BalancerSpec, net network, sc core.ScaleSpec, svc obj) string {
	b.loadBalancer(bal, net)
	b.serviceSecurityGroup(net, obj{"SourceSecurityGroupId": getAtt("LoadBalancerSecurityGroup", "GroupId")})
	h := sc.Health
	interval := seconds(h.Interval, 5, 300)
	algo := "least_outstanding_requests"
	if bal.Algorithm == core.RoundRobinAlgo {
		algo = "round_robin"
	}
	attrs := list{
		obj{"Key": "deregistration_delay.timeout_seconds", "Value": strconv.Itoa(seconds(sc.Drain, 0, 3600))},
		obj{"Key": "load_balancing.algorithm.type", "Value": algo},
	}
	if bal.Sticky > 0 {
		attrs = append(attrs,
			obj{"Key": "stickiness.enabled", "Value": "true"},
			obj{"Key": "stickiness.type", "Value": "lb_cookie"},
			obj{"Key": "stickiness.lb_cookie.duration_seconds", "Value": strconv.Itoa(seconds(bal.Sticky, 1, 604800))})
	}
	b.t.add("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", obj{
		"TargetType": "ip", "Protocol": "HTTP", "Port": b.stack.Spec.Port, "VpcId": net.vpc,
		"HealthCheckPath":            b.healthPath(sc),
		"HealthCheckIntervalSeconds": interval,
		// The ALB wants the timeout below the interval.
		"HealthCheckTimeoutSeconds": clamp(seconds(h.Timeout, 2, 120), 2, interval-1),
		"HealthyThresholdCount":     clamp(h.Healthy, 2, 10),
		"UnhealthyThresholdCount":   clamp(h.Unhealthy, 2, 10),
		"Matcher":                   obj{"HttpCode": "200-399"},
		"TargetGroupAttributes":     attrs,
		"Tags":                      tags(b.stack.Spec.Name, b.st.Spec.Name),
	})
	svc["LoadBalancers"] = list{obj{"ContainerName": containerName, "ContainerPort": b.stack.Spec.Port, "TargetGroupArn": ref("TargetGroup")}}
	start := b.stack.Spec.Health.StartTimeout.D()
	if start == 0 {
		start = core.DefaultStartTimeout
	}
	svc["HealthCheckGracePeriodSeconds"] = int(start.Seconds())
	return "Listener"
}
