package cloudformation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/manifest"
)

// exportedStage exports testdata/stacks/<file> and returns the named
// stage template's resources' properties, decoded.
func exportedStage(t *testing.T, file, stage string) map[string]map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "stacks", file))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := manifest.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Exporter{}.Export(stackOf(spec), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name != spec.Name+"-"+stage+".json" {
			continue
		}
		var tmpl struct {
			Resources map[string]struct{ Properties map[string]any }
		}
		if err := json.Unmarshal(f.Data, &tmpl); err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]any{}
		for k, r := range tmpl.Resources {
			out[k] = r.Properties
		}
		return out
	}
	t.Fatalf("no template for stage %s", stage)
	return nil
}

// at follows keys and indexes through decoded JSON.
func at(x any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := x.(map[string]any)
			x = m[k]
		case int:
			l, _ := x.([]any)
			if k >= len(l) {
				return nil
			}
			x = l[k]
		}
	}
	return x
}

// TestContainerStageMapping: the stage's scale spec reaches Fargate, the
// service and the autoscaler as slipway.yml says.
func TestContainerStageMapping(t *testing.T) {
	r := exportedStage(t, "gateway-full.yml", "prod") // min 2, max 10, cpu 1, memory 4096, target 60, out 1m, in 10m
	for _, c := range []struct {
		got  any
		want any
	}{
		{at(r["TaskDefinition"], "Cpu"), "1024"},
		{at(r["TaskDefinition"], "Memory"), "4096"},
		{at(r["TaskDefinition"], "RequiresCompatibilities", 0), "FARGATE"},
		{at(r["TaskDefinition"], "ContainerDefinitions", 0, "LogConfiguration", "LogDriver"), "awslogs"},
		{at(r["LogGroup"], "RetentionInDays"), 90.0},
		{at(r["Service"], "DesiredCount"), 2.0},
		{at(r["Service"], "DeploymentConfiguration", "DeploymentCircuitBreaker", "Enable"), true},
		{at(r["Service"], "DeploymentConfiguration", "DeploymentCircuitBreaker", "Rollback"), true},
		{at(r["ScalableTarget"], "MinCapacity"), 2.0},
		{at(r["ScalableTarget"], "MaxCapacity"), 10.0},
		{at(r["CPUScalingPolicy"], "TargetTrackingScalingPolicyConfiguration", "TargetValue"), 60.0},
		{at(r["CPUScalingPolicy"], "TargetTrackingScalingPolicyConfiguration", "ScaleOutCooldown"), 60.0},
		{at(r["CPUScalingPolicy"], "TargetTrackingScalingPolicyConfiguration", "ScaleInCooldown"), 600.0},
		{at(r["CPUScalingPolicy"], "TargetTrackingScalingPolicyConfiguration", "PredefinedMetricSpecification", "PredefinedMetricType"), "ECSServiceAverageCPUUtilization"},
		{at(r["Integration"], "ConnectionType"), "VPC_LINK"},
		{at(r["Integration"], "TimeoutInMillis"), 15000.0},
		{at(r["ApiStage"], "DefaultRouteSettings", "ThrottlingRateLimit"), 500.0},
		{at(r["ApiStage"], "DefaultRouteSettings", "ThrottlingBurstLimit"), 1000.0},
		{at(r["Authorizer"], "JwtConfiguration", "Issuer"), "https://auth.example.com/"},
		{at(r["Api"], "CorsConfiguration", "MaxAge"), 600.0},
		{at(r["ScopeRouteAdmin"], "AuthorizationScopes", 0), "admin"},
		{at(r["ScopeRouteAdmin"], "RouteKey"), "ANY /admin"},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
}

// TestServerlessStageMapping: Lambda's settings and the schedules.
func TestServerlessStageMapping(t *testing.T) {
	dev := exportedStage(t, "serverless-full.yml", "dev")   // memory 256, min 0, two schedules
	prod := exportedStage(t, "serverless-full.yml", "prod") // memory 1024, min 1, max 50, timeout 60s, balancer
	for _, c := range []struct {
		got  any
		want any
	}{
		{at(dev["Function"], "MemorySize"), 256.0},
		{at(dev["Function"], "Timeout"), 60.0},
		{at(dev["Function"], "ReservedConcurrentExecutions"), 50.0},
		{at(dev["Function"], "PackageType"), "Image"},
		{dev["FunctionAlias"] == nil, true},
		{at(dev["Schedule1"], "ScheduleExpression"), "rate(5 minutes)"},
		{at(dev["Schedule2"], "ScheduleExpression"), "cron(0 12 * * ? *)"},
		{at(dev["Integration"], "IntegrationType"), "AWS_PROXY"},
		{at(prod["Function"], "MemorySize"), 1024.0},
		{at(prod["FunctionAlias"], "ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions"), 1.0},
		{at(prod["TargetGroup"], "TargetType"), "lambda"},
		{at(prod["LoadBalancerPermission"], "Principal"), "elasticloadbalancing.amazonaws.com"},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	var input map[string]any
	s, _ := at(dev["Schedule2"], "Target", "Input").(string)
	if err := json.Unmarshal([]byte(s), &input); err != nil || at(input, "detail", "method") != "POST" || at(input, "detail", "path") != "/jobs/nightly?dry=1" {
		t.Errorf("schedule input %q (%v)", s, err)
	}
}

// TestNetwork: with VpcId empty a container stage behind a balancer
// creates a VPC with 3 public and 3 private subnets, one of each per AZ,
// each in its own CIDR block; given VpcId, the service and the load
// balancer take the subnet parameters, which a rule requires then.
func TestNetwork(t *testing.T) {
	files, err := Exporter{}.Export(stackOf(starterSpec(t, "container", "balancer")), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Rules     map[string]any
		Resources map[string]struct {
			Type       string
			Condition  string
			Properties map[string]any
		}
		Outputs map[string]any
	}
	if err := json.Unmarshal(files[1].Data, &tmpl); err != nil {
		t.Fatal(err)
	}
	azs, cidrs := map[float64]bool{}, map[float64]bool{}
	for _, tier := range []string{"Public", "Private"} {
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("%sSubnet%d", tier, i)
			r, ok := tmpl.Resources[name]
			if !ok || r.Type != "AWS::EC2::Subnet" || r.Condition != "CreateVpc" {
				t.Fatalf("%s: %+v", name, r)
			}
			az, _ := at(r.Properties, "AvailabilityZone", "Fn::Select", 0).(float64)
			azs[az] = true
			cidr, _ := at(r.Properties, "CidrBlock", "Fn::Select", 0).(float64)
			cidrs[cidr] = true
			if public := at(r.Properties, "MapPublicIpOnLaunch"); public != (tier == "Public") {
				t.Errorf("%s: MapPublicIpOnLaunch %v", name, public)
			}
		}
	}
	if len(azs) != 3 || len(cidrs) != 6 {
		t.Errorf("subnets span AZs %v and CIDR blocks %v; want 3 AZs and 6 blocks", azs, cidrs)
	}
	for _, name := range []string{"Vpc", "InternetGateway", "NatGateway", "PrivateRoute", "PublicRoute"} {
		if tmpl.Resources[name].Condition != "CreateVpc" {
			t.Errorf("%s is created whatever VpcId says", name)
		}
	}
	given := func(res string, path ...any) {
		t.Helper()
		branches, _ := at(tmpl.Resources[res].Properties, append(path, "Fn::If")...).([]any)
		if len(branches) != 3 || branches[0] != "CreateVpc" || len(branches[1].([]any)) != 3 {
			t.Fatalf("%s %v: %v", res, path, branches)
		}
	}
	given("Service", "NetworkConfiguration", "AwsvpcConfiguration", "Subnets")
	given("LoadBalancer", "Subnets")
	if at(tmpl.Resources["Service"].Properties, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets", "Fn::If", 2, "Ref") != "PrivateSubnetIds" ||
		at(tmpl.Resources["LoadBalancer"].Properties, "Subnets", "Fn::If", 2, "Ref") != "PublicSubnetIds" {
		t.Error("given VpcId, the service and load balancer do not take the subnet parameters")
	}
	rule := at(tmpl.Rules, "SubnetsOfTheGivenVpc")
	if at(rule, "RuleCondition", "Fn::Not", 0, "Fn::Equals", 0, "Ref") != "VpcId" ||
		at(rule, "Assertions", 0, "Assert", "Fn::Not", 0, "Fn::EachMemberEquals", 0, "Ref") != "PublicSubnetIds" ||
		at(rule, "Assertions", 1, "Assert", "Fn::Not", 0, "Fn::EachMemberEquals", 0, "Ref") != "PrivateSubnetIds" {
		t.Errorf("the subnet rule: %v", rule)
	}
	if at(tmpl.Outputs, "EndpointURL", "Value", "Fn::Sub") != "http://${LoadBalancer.DNSName}" {
		t.Errorf("EndpointURL: %v", tmpl.Outputs["EndpointURL"])
	}
}
