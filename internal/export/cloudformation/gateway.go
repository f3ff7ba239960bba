package cloudformation

import (
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// httpAPI adds an API Gateway HTTP API with the gateway's CORS, JWT
// authorizer (routes with scopes per prefix) and stage throttling, all
// routed to the integration, and the EndpointURL output.
//
// API keys and usage plans exist only on REST APIs. Slipway emits an
// HTTP API (what TinyStacks used, and what the JWT authorizer and the
// VPC link to Cloud Map need) and lists them as warnings instead.
func (b *stage) httpAPI(gw core.GatewaySpec, integration obj) {
	t := b.t
	api := obj{"Name": b.name, "ProtocolType": "HTTP", "Tags": obj{"slipway:stack": b.stack.Spec.Name, "slipway:stage": b.st.Spec.Name}}
	if c := gw.CORS; c != nil {
		cors := obj{"AllowOrigins": c.AllowOrigins}
		if len(c.AllowMethods) > 0 {
			cors["AllowMethods"] = c.AllowMethods
		}
		if len(c.AllowHeaders) > 0 {
			cors["AllowHeaders"] = c.AllowHeaders
		}
		if len(c.ExposeHeaders) > 0 {
			cors["ExposeHeaders"] = c.ExposeHeaders
		}
		if c.MaxAge > 0 {
			cors["MaxAge"] = min(int(c.MaxAge.D().Seconds()), 86400)
		}
		if c.AllowCredentials {
			cors["AllowCredentials"] = true
		}
		api["CorsConfiguration"] = cors
	}
	t.add("Api", "AWS::ApiGatewayV2::Api", api)
	timeout := gw.Timeout.D()
	if timeout == 0 {
		timeout = core.DefaultGatewayTimeout
	}
	integration["ApiId"] = ref("Api")
	integration["TimeoutInMillis"] = clamp(int(timeout/time.Millisecond), 50, 30000)
	t.add("Integration", "AWS::ApiGatewayV2::Integration", integration)

	route := func(id, key string, scopes []string) {
		r := obj{"ApiId": ref("Api"), "RouteKey": key, "Target": sub("integrations/${Integration}")}
		if gw.JWT != nil {
			r["AuthorizationType"] = "JWT"
			r["AuthorizerId"] = ref("Authorizer")
			if len(scopes) > 0 {
				r["AuthorizationScopes"] = scopes
			}
		}
		t.add(id, "AWS::ApiGatewayV2::Route", r)
	}
	route("DefaultRoute", "$default", nil)
	if j := gw.JWT; j != nil {
		t.add("Authorizer", "AWS::ApiGatewayV2::Authorizer", obj{
			"ApiId": ref("Api"), "Name": b.name + "-jwt", "AuthorizerType": "JWT",
			"IdentitySource":   list{"$request.header.Authorization"},
			"JwtConfiguration": obj{"Issuer": j.Issuer, "Audience": j.Audiences},
		})
		if j.JWKSURL != "" {
			t.warn("jwt.jwks_url is not carried over: API Gateway finds the keys from the issuer's OpenID discovery document (%s/.well-known/openid-configuration)", strings.TrimSuffix(j.Issuer, "/"))
		}
		ids := uniqueIDs("ScopeRoute", sortedKeys(j.Scopes))
		for _, prefix := range sortedKeys(j.Scopes) {
			p := "/" + strings.Trim(prefix, "/")
			route(ids[prefix], "ANY "+p, j.Scopes[prefix])
			if p != "/" {
				route(ids[prefix]+"Proxy", "ANY "+p+"/{proxy+}", j.Scopes[prefix])
			}
		}
	}
	rate, burst := gw.Throttle.Rate, gw.Throttle.Burst
	if rate == 0 && burst == 0 {
		rate, burst = core.DefaultStageRate, core.DefaultStageBurst
	}
	t.add("AccessLogGroup", "AWS::Logs::LogGroup", obj{"LogGroupName": "/slipway/" + b.stack.Spec.Name + "/" + b.st.Spec.Name + "/access", "RetentionInDays": 90})
	t.add("ApiStage", "AWS::ApiGatewayV2::Stage", obj{
		"ApiId": ref("Api"), "StageName": "$default", "AutoDeploy": true,
		"DefaultRouteSettings": obj{"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst},
		"AccessLogSettings": obj{"DestinationArn": getAtt("AccessLogGroup", "Arn"),
			"Format": `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength"}`},
	})
	if gw.APIKeys == "required" {
		t.warn("api_keys: required is not carried over: API keys need an API Gateway REST API and this template emits an HTTP API; put an authorizer (the JWT one) in front instead")
	}
	for _, name := range sortedKeys(gw.UsagePlans) {
		t.warn("usage plan %s is not carried over: usage plans need an API Gateway REST API and this template emits an HTTP API; the stage throttle applies to every client", name)
	}
	if gw.MaxBody != 0 && gw.MaxBody != core.DefaultMaxBody {
		t.warn("max_body %d is not carried over: HTTP APIs accept 10 MB payloads, fixed", gw.MaxBody)
	}
	t.output("EndpointURL", "The stage's endpoint", getAtt("Api", "ApiEndpoint"))
}

// containerGateway puts an HTTP API in front of the service: a VPC link
// in the private subnets to a Cloud Map service the tasks register in
// (SRV records, so the link finds each task's port). It returns what the
// service must wait for.
func (b *stage) containerGateway(gw core.GatewaySpec, net network, svc obj) string {
	t := b.t
	b.serviceSecurityGroup(net, obj{"CidrIp": net.cidr})
	t.add("Namespace", "AWS::ServiceDiscovery::PrivateDnsNamespace", obj{
		"Name": fmt.Sprintf("%s.%s.local", b.st.Spec.Name, b.stack.Spec.Name), "Vpc": net.vpc,
	})
	t.add("DiscoveryService", "AWS::ServiceDiscovery::Service", obj{
		"Name": containerName, "NamespaceId": ref("Namespace"),
		"DnsConfig":               obj{"RoutingPolicy": "MULTIVALUE", "DnsRecords": list{obj{"Type": "SRV", "TTL": 10}}},
		"HealthCheckCustomConfig": obj{"FailureThreshold": 1},
	})
	t.add("VpcLinkSecurityGroup", "AWS::EC2::SecurityGroup", obj{
		"GroupDescription": fmt.Sprintf("VPC link of %s", b.name), "VpcId": net.vpc,
	})
	t.add("VpcLink", "AWS::ApiGatewayV2::VpcLink", obj{
		"Name": b.name, "SubnetIds": net.private, "SecurityGroupIds": list{ref("VpcLinkSecurityGroup")},
	})
	b.httpAPI(gw, obj{
		"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "ANY", "PayloadFormatVersion": "1.0",
		"ConnectionType": "VPC_LINK", "ConnectionId": ref("VpcLink"),
		"IntegrationUri": getAtt("DiscoveryService", "Arn"),
	})
	svc["ServiceRegistries"] = list{obj{"RegistryArn": getAtt("DiscoveryService", "Arn"), "ContainerName": containerName, "ContainerPort": b.stack.Spec.Port}}
	return "DiscoveryService"
}
