package cloudformation

import (
	"fmt"
	"math"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// cwMetric is a CloudWatch metric a Slipway metric maps to.
type cwMetric struct {
	Namespace, Name string
	Statistic       string // Sum, Average, Maximum; "" with Extended
	Extended        string // p50, p90, p99
	Dimensions      list
	// Scale converts a Slipway threshold to the CloudWatch metric's unit
	// (ms to s for the ALB's TargetResponseTime); 0 means 1.
	Scale float64
}

// alarmMetric maps a Slipway metric to CloudWatch for a stage of arch
// behind an endpoint kind, or says why there is none. The mapping:
//
//	metric             ALB (balancer)                 HTTP API (gateway)      container (ECS)          serverless (Lambda)
//	requests           RequestCount Sum               Count Sum
//	status_2xx/3xx     HTTPCode_Target_2XX/3XX_Count  —
//	status_4xx         HTTPCode_Target_4XX_Count      4xx Sum
//	status_5xx/errors  HTTPCode_Target_5XX_Count      5xx Sum
//	p50/p90/p99        TargetResponseTime pNN (s)     Latency pNN (ms)
//	cpu_percent                                                               CPUUtilization Average   —
//	memory_mb                                                                 MemoryUtilization (%)    —
//	instances                                                                 RunningTaskCount         ConcurrentExecutions Maximum
//	concurrency                                                               —                        ConcurrentExecutions Average
//	throttles                                                                 —                        Throttles Sum
//	cold_starts, gb_seconds, builds_*, releases_*: no CloudWatch equivalent.
func alarmMetric(metric string, arch core.Architecture, kind string, memoryMB int) (cwMetric, string) {
	alb := kind == core.EndpointBalancer
	front := func(albName, apiName, stat string) (cwMetric, string) {
		if alb {
			if albName == "" {
				return cwMetric{}, "an ALB has no such metric"
			}
			return cwMetric{Namespace: "AWS/ApplicationELB", Name: albName, Statistic: stat,
				Dimensions: list{obj{"Name": "LoadBalancer", "Value": getAtt("LoadBalancer", "LoadBalancerFullName")}}}, ""
		}
		if apiName == "" {
			return cwMetric{}, "an API Gateway HTTP API has no such metric"
		}
		return cwMetric{Namespace: "AWS/ApiGateway", Name: apiName, Statistic: stat,
			Dimensions: list{obj{"Name": "ApiId", "Value": ref("Api")}, obj{"Name": "Stage", "Value": "$default"}}}, ""
	}
	ecs := list{obj{"Name": "ClusterName", "Value": ref("Cluster")}, obj{"Name": "ServiceName", "Value": getAtt("Service", "Name")}}
	lambda := list{obj{"Name": "FunctionName", "Value": ref("Function")}}
	container := arch != core.ArchServerless
	switch metric {
	case "requests":
		return front("RequestCount", "Count", "Sum")
	case "status_2xx":
		return front("HTTPCode_Target_2XX_Count", "", "Sum")
	case "status_3xx":
		return front("HTTPCode_Target_3XX_Count", "", "Sum")
	case "status_4xx":
		return front("HTTPCode_Target_4XX_Count", "4xx", "Sum")
	case "status_5xx", "errors":
		return front("HTTPCode_Target_5XX_Count", "5xx", "Sum")
	case "p50_latency_ms", "p90_latency_ms", "p99_latency_ms":
		m, why := front("TargetResponseTime", "Latency", "")
		m.Extended = metric[:3]
		if alb {
			m.Scale = 0.001 // TargetResponseTime is in seconds
		}
		return m, why
	case "cpu_percent":
		if container {
			return cwMetric{Namespace: "AWS/ECS", Name: "CPUUtilization", Statistic: "Average", Dimensions: ecs}, ""
		}
		return cwMetric{}, "Lambda has no CPU metric"
	case "memory_mb":
		if container && memoryMB > 0 {
			// MemoryUtilization is a percent of the task's memory.
			return cwMetric{Namespace: "AWS/ECS", Name: "MemoryUtilization", Statistic: "Average", Dimensions: ecs, Scale: 100 / float64(memoryMB)}, ""
		}
		return cwMetric{}, "Lambda has no memory-use metric (only the configured size)"
	case "instances":
		if container {
			return cwMetric{Namespace: "ECS/ContainerInsights", Name: "RunningTaskCount", Statistic: "Average", Dimensions: ecs}, ""
		}
		return cwMetric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions", Statistic: "Maximum", Dimensions: lambda}, ""
	case "concurrency":
		if !container {
			return cwMetric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions", Statistic: "Average", Dimensions: lambda}, ""
		}
		return cwMetric{}, "ECS has no requests-in-flight metric"
	case "throttles":
		if !container {
			return cwMetric{Namespace: "AWS/Lambda", Name: "Throttles", Statistic: "Sum", Dimensions: lambda}, ""
		}
		return cwMetric{}, "API Gateway and the ALB do not count their own 429s apart"
	}
	return cwMetric{}, "CloudWatch has no equivalent"
}

// cwPeriod rounds a period up to whole minutes. CloudWatch also takes 10
// and 30 s, but only for high-resolution metrics: the AWS metrics these
// alarms watch are published once a minute, and an alarm of 10 or 30 s
// on them finds no datapoint in most periods.
func cwPeriod(d core.Duration) int {
	s := int(math.Ceil(d.D().Seconds()))
	return max(60, (s+59)/60*60)
}

// missingData is the alarm's TreatMissingData. A count (Sum) has no
// datapoint when nothing happened, which is a zero: the period breaches
// if zero does (requests below 1 on an idle stage). Any other metric's
// gap is "missing", as Slipway's alarms treat it: it neither breaches nor
// clears, and an alarm with no data at all is INSUFFICIENT_DATA.
func missingData(m cwMetric, comparison string, threshold float64) string {
	if m.Statistic != "Sum" {
		return "missing"
	}
	if comparison == "below" && 0 < threshold || comparison != "below" && 0 > threshold {
		return "breaching"
	}
	return "notBreaching"
}

// alarms adds a CloudWatch alarm per metric alarm of the stage that has
// an equivalent, and a warning for each that has none. Built-in alarms
// (build-failed, release-failed, crash-loop) are not exported here: the
// shared template alarms on failed builds.
func (b *stage) alarms(ep core.EndpointSpec) {
	memory := b.st.Spec.EffectiveScale().MemoryMB
	ids := map[string]bool{}
	notified := false
	for _, a := range b.st.Alarms {
		if a.BuiltIn() {
			continue
		}
		m, why := alarmMetric(a.Metric, b.stack.Spec.Architecture, ep.Kind, memory)
		if why != "" {
			b.t.warn("alarm %s (%s) is not exported: %s", a.Name, a.Metric, why)
			continue
		}
		id := "Alarm" + logicalID(a.ID)
		for i := 2; ids[id]; i++ {
			id = fmt.Sprintf("Alarm%s%d", logicalID(a.ID), i)
		}
		ids[id] = true
		op := "GreaterThanThreshold"
		if a.Comparison == "below" {
			op = "LessThanThreshold"
		}
		threshold := a.Threshold
		if m.Scale != 0 {
			threshold *= m.Scale
		}
		p := obj{
			"AlarmName":        b.name + "-" + a.Name,
			"AlarmDescription": fmt.Sprintf("Slipway alarm %s: %s %s %g for %d × %s", a.Name, a.Metric, a.Comparison, a.Threshold, max(1, a.For), a.Period.D()),
			"Namespace":        m.Namespace, "MetricName": m.Name, "Dimensions": m.Dimensions,
			"ComparisonOperator": op, "Threshold": threshold,
			"Period": cwPeriod(a.Period), "EvaluationPeriods": max(1, a.For),
			"TreatMissingData": missingData(m, a.Comparison, threshold),
		}
		if a.Period.D() < time.Minute {
			b.t.warn("alarm %s: its period %s is 1 minute on CloudWatch, where the AWS metrics it watches are published once a minute", a.Name, a.Period.D())
		}
		if m.Extended != "" {
			p["ExtendedStatistic"] = m.Extended
		} else {
			p["Statistic"] = m.Statistic
		}
		b.t.add(id, "AWS::CloudWatch::Alarm", p)
		notified = notified || len(a.Notify) > 0
	}
	if notified {
		b.t.warn("alarm webhooks are not carried over: add an SNS topic to the alarms' AlarmActions")
	}
}
