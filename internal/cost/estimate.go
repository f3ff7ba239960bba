package cost

import (
	"fmt"
	"math"
	"slices"
)

// LineItem is one charge of a monthly estimate.
type LineItem struct {
	Service    string  `json:"service"` // "Lambda", "Fargate", "EC2", "API Gateway", "ALB", "NAT Gateway", "CloudWatch Logs", "ECR", "Data transfer"
	Item       string  `json:"item"`    // "requests", "GB-seconds", "vCPU-hours", "LCU-hours", ...
	Quantity   float64 `json:"quantity"`
	Unit       string  `json:"unit"`
	UnitPrice  float64 `json:"unit_price"` // USD per Unit (the first paid tier's, for tiered prices)
	Cost       float64 `json:"cost"`       // USD per month
	Arithmetic string  `json:"arithmetic"` // e.g. "10,000,000 requests × $0.20 / 1M = $2.00"
	Source     string  `json:"source"`     // the price's source page name and date
}

// Estimate is a stage's monthly cost on AWS under one price table.
type Estimate struct {
	Table       string     `json:"table"`
	Stage       Stage      `json:"stage"`
	Profile     Profile    `json:"profile"` // as priced: defaults and derived rates filled in
	Items       []LineItem `json:"items"`
	Total       float64    `json:"total"`
	Assumptions []string   `json:"assumptions"`
}

// The estimator's fixed assumptions; each estimate lists the ones it
// used in words.
const (
	HoursPerMonth   = 730 // AWS's pricing-page convention (8,760 / 12)
	SecondsPerMonth = HoursPerMonth * 3600
	BytesPerGB      = 1 << 30 // AWS bills binary gigabytes

	// Filled in when a profile leaves them zero.
	DefaultDurationMS    = 100
	DefaultRequestBytes  = 1 << 10  // 1 KiB
	DefaultResponseBytes = 10 << 10 // 10 KiB

	// LogBytesPerRequest is what one request writes to CloudWatch Logs:
	// an access-log line and a line or two from the app (on Lambda, the
	// START/END/REPORT lines).
	LogBytesPerRequest = 500
	// ImageGB is the image kept in ECR (and pulled once a month by each
	// always-on container instance, through the NAT gateway).
	ImageGB = 0.5
	// ContainerConcurrencyPerVCPU is how many requests in flight one vCPU
	// of a container instance serves before the autoscaler adds one.
	ContainerConcurrencyPerVCPU = 20
	// apiGatewayMeterBytes: API Gateway meters requests in 512 KB steps.
	apiGatewayMeterBytes = 512 << 10
	// lambdaFreeEphemeralMB: /tmp up to 512 MB is free (the only size in 2021).
	lambdaFreeEphemeralMB = 512

	defaultContainerCPU      = 0.25
	defaultMemoryMB          = 512
	defaultServerlessTimeout = 30_000
)

// Services as they appear in line items.
const (
	svcLambda   = "Lambda"
	svcFargate  = "Fargate"
	svcEC2      = "EC2"
	svcAPIGW    = "API Gateway"
	svcALB      = "ALB"
	svcNAT      = "NAT Gateway"
	svcLogs     = "CloudWatch Logs"
	svcECR      = "ECR"
	svcTransfer = "Data transfer"
)

// EstimateStage prices a month of the profile's traffic on the stage.
// The returned Profile is the one priced: zero fields filled in with
// defaults or derived from the others, as Assumptions say.
func EstimateStage(t *Table, s Stage, p Profile) Estimate {
	s, p, as := normalize(s, p)
	if s.Architecture == "container" && s.InstanceType != "" && !hasPrice(t, "ec2."+s.InstanceType) {
		as = append(as, fmt.Sprintf("instance type %s is not in table %s: priced as Fargate", s.InstanceType, t.Name))
		s.InstanceType = ""
		if s.CPU <= 0 {
			s.CPU = defaultContainerCPU
		}
	}
	e := Estimate{Table: t.Name, Stage: s, Profile: p}
	as = append(as, fmt.Sprintf("a month is %d hours; 1 GB is 2^30 bytes; prices are %s (%s)", HoursPerMonth, t.Name, t.Date))
	if s.Architecture == "serverless" {
		e.Items, as = serverlessItems(t, s, p, as)
	} else {
		e.Items, as = containerItems(t, s, p, as)
	}
	var front []LineItem
	if s.Endpoint == "balancer" {
		front, as = balancerItems(t, s, p, as)
	} else {
		front, as = gatewayItems(t, p, as)
	}
	e.Items = append(e.Items, front...)
	e.Items, as = append(e.Items, sharedItems(t, s, p)...), append(as, sharedAssumptions...)
	for _, it := range e.Items {
		e.Total += it.Cost
	}
	e.Total = math.Round(e.Total*1e6) / 1e6
	e.Assumptions = as
	return e
}

var sharedAssumptions = []string{
	fmt.Sprintf("CloudWatch Logs: %d bytes of logs per request, each month's logs stored for a month", LogBytesPerRequest),
	fmt.Sprintf("ECR: one %.1f GB image stored", ImageGB),
	"data transfer out: every response leaves AWS for the internet (requests × response bytes)",
	"free tiers: only the always-free ones (Lambda, 5 GB of CloudWatch Logs, data transfer out); not the 12-month ones for new accounts (EC2, ALB, API Gateway, ECR); a free tier is an account's, but each stage is priced with all of it, so a stack's total counts it once per stage",
	"not priced: databases, public IPv4 addresses, Route 53, certificates, build minutes, an EC2 instance's EBS root volume",
}

// normalize fills the stage's and profile's zero fields and says which.
func normalize(s Stage, p Profile) (Stage, Profile, []string) {
	var as []string
	if s.Architecture != "serverless" {
		s.Architecture = "container"
	}
	if s.Endpoint != "balancer" {
		s.Endpoint = "gateway"
	}
	if s.MemoryMB <= 0 {
		s.MemoryMB = defaultMemoryMB
		as = append(as, fmt.Sprintf("memory not set: %d MB", defaultMemoryMB))
	}
	if s.Architecture == "container" && s.CPU <= 0 && s.InstanceType == "" {
		s.CPU = defaultContainerCPU
		as = append(as, fmt.Sprintf("CPU not set: %g vCPU", defaultContainerCPU))
	}
	if s.Architecture == "serverless" && s.TimeoutMS <= 0 {
		s.TimeoutMS = defaultServerlessTimeout
	}
	if p.DurationMS <= 0 {
		p.DurationMS = DefaultDurationMS
		as = append(as, fmt.Sprintf("mean duration not given: %d ms", DefaultDurationMS))
	}
	if p.RequestBytes <= 0 {
		p.RequestBytes = DefaultRequestBytes
		as = append(as, fmt.Sprintf("mean request size not given: %d bytes", DefaultRequestBytes))
	}
	if p.ResponseBytes <= 0 {
		p.ResponseBytes = DefaultResponseBytes
		as = append(as, fmt.Sprintf("mean response size not given: %d bytes", DefaultResponseBytes))
	}
	perSecond := p.RequestsPerMonth / SecondsPerMonth
	if p.MeanConcurrency <= 0 {
		p.MeanConcurrency = perSecond * p.DurationMS / 1000
		as = append(as, fmt.Sprintf("mean concurrency %s = %s requests/s × %s ms (Little's law)", qty(p.MeanConcurrency), qty(perSecond), qty(p.DurationMS)))
	}
	if p.PeakConcurrency <= 0 {
		p.PeakConcurrency = p.MeanConcurrency
		as = append(as, "peak concurrency not given: the mean")
	}
	if p.NewConnectionsPerSecond <= 0 {
		p.NewConnectionsPerSecond = perSecond
		as = append(as, fmt.Sprintf("new connections %s/s: one per request (no keep-alive, the ALB's worst case)", qty(perSecond)))
	}
	if p.ActiveConnectionsPerMinute <= 0 {
		p.ActiveConnectionsPerMinute = p.MeanConcurrency
		as = append(as, "active connections: the mean concurrency (each connection lives as long as its request)")
	}
	return s, p, as
}

// containerInstances is how many container instances run on average:
// the minimum always, more while the mean load needs them, at most the
// maximum (0 = no maximum).
func containerInstances(s Stage, p Profile) (n int, note string) {
	perInstance := ContainerConcurrencyPerVCPU * s.CPU
	if s.InstanceType != "" {
		perInstance = ContainerConcurrencyPerVCPU * instanceVCPU(s.InstanceType)
	}
	need := int(math.Ceil(p.MeanConcurrency/perInstance - 1e-9))
	n = max(s.MinInstances, need)
	note = fmt.Sprintf("container instances: %d on average = max(min %d, ⌈mean concurrency %s / (%d per vCPU × %g vCPU)⌉ = %d)",
		n, s.MinInstances, qty(p.MeanConcurrency), ContainerConcurrencyPerVCPU, perInstance/ContainerConcurrencyPerVCPU, need)
	if s.MaxInstances > 0 && n > s.MaxInstances {
		n = s.MaxInstances
		note += fmt.Sprintf(", capped at max %d: the stage would be saturated", s.MaxInstances)
	}
	if peak := int(math.Ceil(p.PeakConcurrency/perInstance - 1e-9)); s.MaxInstances > 0 && peak > s.MaxInstances {
		note += fmt.Sprintf("; the peak needs %d, more than max %d", peak, s.MaxInstances)
	}
	return n, note
}

// ec2VCPU are the vCPUs of the EC2 types the tables price.
var ec2VCPU = map[string]float64{"t3.micro": 2, "t3.small": 2, "m3.medium": 1, "m3.large": 2}

func instanceVCPU(typ string) float64 {
	if v, ok := ec2VCPU[typ]; ok {
		return v
	}
	return 1
}

func containerItems(t *Table, s Stage, p Profile, as []string) ([]LineItem, []string) {
	n, note := containerInstances(s, p)
	as = append(as, note)
	hours := float64(n) * HoursPerMonth
	var items []LineItem
	if s.InstanceType != "" {
		items = append(items, t.item(svcEC2, s.InstanceType+" instance-hours", "ec2."+s.InstanceType, hours, "instance-hours"))
		as = append(as, fmt.Sprintf("ECS on EC2: one %s per container instance (TinyStacks' model)", s.InstanceType))
	} else {
		gb := float64(s.MemoryMB) / 1024
		items = append(items,
			t.item(svcFargate, "vCPU-hours", "fargate.vcpu", hours*s.CPU, "vCPU-hours"),
			t.item(svcFargate, "GB-hours", "fargate.memory", hours*gb, "GB-hours"))
		items[0].Arithmetic = fmt.Sprintf("%d × %d h × %g vCPU: ", n, HoursPerMonth, s.CPU) + items[0].Arithmetic
		items[1].Arithmetic = fmt.Sprintf("%d × %d h × %g GB: ", n, HoursPerMonth, gb) + items[1].Arithmetic
	}
	// Tasks in private subnets reach ECR and CloudWatch through NAT.
	natGB := p.RequestsPerMonth*LogBytesPerRequest/BytesPerGB + ImageGB*float64(n)
	items = append(items,
		t.item(svcNAT, "hours", "nat.hour", HoursPerMonth, "hours"),
		t.item(svcNAT, "GB processed", "nat.data", natGB, "GB"))
	as = append(as, "NAT: one NAT gateway (one AZ), since container instances sit in private subnets as in TinyStacks' VPC "+
		"(its docs name a NAT instance by default or an opt-in NAT gateway); it carries the logs and one image pull per instance a month")
	return items, as
}

func serverlessItems(t *Table, s Stage, p Profile, as []string) ([]LineItem, []string) {
	gb := float64(s.MemoryMB) / 1024
	billedMS := math.Min(math.Ceil(p.DurationMS), float64(s.TimeoutMS))
	gbs := p.RequestsPerMonth * billedMS / 1000 * gb
	items := []LineItem{t.item(svcLambda, "requests", "lambda.requests", p.RequestsPerMonth, "requests")}
	as = append(as, fmt.Sprintf("Lambda: duration billed per ms rounded up: %s ms × %g GB per request; no VPC, so no NAT gateway (TinyStacks' default)", qty(billedMS), gb))
	onDemand := gbs
	if s.MinInstances > 0 {
		pcGBs := float64(s.MinInstances) * gb * SecondsPerMonth
		share := 1.0
		if p.MeanConcurrency > float64(s.MinInstances) {
			share = float64(s.MinInstances) / p.MeanConcurrency
		}
		onDemand = gbs * (1 - share)
		pc := t.item(svcLambda, "provisioned concurrency GB-seconds", "lambda.provisioned", pcGBs, "GB-s")
		pc.Arithmetic = fmt.Sprintf("%d × %g GB × %s s: ", s.MinInstances, gb, qty(SecondsPerMonth)) + pc.Arithmetic
		pd := t.item(svcLambda, "provisioned duration GB-seconds", "lambda.provisioned_duration", gbs*share, "GB-s")
		items = append(items, pc, pd)
		as = append(as, fmt.Sprintf("provisioned concurrency %d serves %s%% of the invocations (min(1, %d / mean concurrency %s)), the rest run on demand",
			s.MinInstances, qty(share*100), s.MinInstances, qty(p.MeanConcurrency)))
	}
	od := t.item(svcLambda, "GB-seconds", "lambda.duration", onDemand, "GB-s")
	if s.MinInstances == 0 {
		od.Arithmetic = fmt.Sprintf("%s requests × %s ms × %g GB = ", qty(p.RequestsPerMonth), qty(billedMS), gb) + od.Arithmetic
	}
	items = append(items, od)
	as = append(as, fmt.Sprintf("Lambda ephemeral storage: the free %d MB", lambdaFreeEphemeralMB))
	if s.MaxInstances > 0 && p.PeakConcurrency > float64(s.MaxInstances) {
		as = append(as, fmt.Sprintf("peak concurrency %s exceeds max instances %d: Lambda would throttle the excess (priced as if served)", qty(p.PeakConcurrency), s.MaxInstances))
	}
	return items, as
}

func gatewayItems(t *Table, p Profile, as []string) ([]LineItem, []string) {
	steps := math.Max(1, math.Ceil(p.RequestBytes/apiGatewayMeterBytes))
	it := t.item(svcAPIGW, "HTTP API requests", "apigw.http", p.RequestsPerMonth*steps, "requests")
	as = append(as, "gateway: API Gateway HTTP API (TinyStacks' endpoint), each request metered in 512 KB steps; its VPC link is free")
	return []LineItem{it}, as
}

func balancerItems(t *Table, s Stage, p Profile, as []string) ([]LineItem, []string) {
	d := t.LCU
	gbPerHour := p.RequestsPerMonth * (p.RequestBytes + p.ResponseBytes) / BytesPerGB / HoursPerMonth
	perLCU, target := d.ProcessedGBPerHour, "container"
	if s.Architecture == "serverless" {
		perLCU, target = d.ProcessedGBPerHourLambda, "Lambda"
	}
	// Rule evaluations: requests/s × the rules processed beyond the free ones.
	rules := max(1, s.Rules)
	ruleEvals := p.RequestsPerMonth / SecondsPerMonth * math.Max(0, float64(rules)-d.FreeRules)
	dims := []float64{
		p.NewConnectionsPerSecond / d.NewConnectionsPerSecond,
		p.ActiveConnectionsPerMinute / d.ActiveConnectionsPerMinute,
		gbPerHour / perLCU,
		ruleEvals / d.RuleEvaluationsPerSecond,
	}
	lcu := slices.Max(dims)
	hours := t.item(svcALB, "ALB-hours", "alb.hour", HoursPerMonth, "hours")
	lcuItem := t.item(svcALB, "LCU-hours", "alb.lcu", lcu*HoursPerMonth, "LCU-hours")
	lcuItem.Arithmetic = fmt.Sprintf("max(%s new conn/s / %g, %s active conn / %g, %s GB/h / %g, %s rule evals/s / %g) = %s LCU × %d h: ",
		qty(p.NewConnectionsPerSecond), d.NewConnectionsPerSecond, qty(p.ActiveConnectionsPerMinute), d.ActiveConnectionsPerMinute,
		qty(gbPerHour), perLCU, qty(ruleEvals), d.RuleEvaluationsPerSecond, qty(lcu), HoursPerMonth) + lcuItem.Arithmetic
	as = append(as, fmt.Sprintf("balancer: one ALB, billed on the largest LCU dimension (%g GB/h per LCU for %s targets); "+
		"rule evaluations are requests/s × the listener rules past the first %g (here %d: the default and one per route)", perLCU, target, d.FreeRules, rules))
	return []LineItem{hours, lcuItem}, as
}

func sharedItems(t *Table, s Stage, p Profile) []LineItem {
	logGB := p.RequestsPerMonth * LogBytesPerRequest / BytesPerGB
	outGB := p.RequestsPerMonth * p.ResponseBytes / BytesPerGB
	return []LineItem{
		t.item(svcLogs, "GB ingested", "logs.ingest", logGB, "GB"),
		t.item(svcLogs, "GB-months stored", "logs.storage", logGB, "GB-months"),
		t.item(svcECR, "GB-months stored", "ecr.storage", ImageGB, "GB-months"),
		t.item(svcTransfer, "GB out to the internet", "transfer.out", outGB, "GB"),
	}
}

func hasPrice(t *Table, id string) bool {
	_, ok := t.Price(id)
	return ok
}
