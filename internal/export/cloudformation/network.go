package cloudformation

import "fmt"

// Subnet tiers and AZs of the VPC a stage template creates when no VPC
// is given: 3 public and 3 private subnets, one of each per AZ.
const azs = 3

// network is where a stage's resources go: the VPC ID and subnet lists,
// each either the created resources or the given parameters.
type network struct {
	vpc     any
	public  any // nil when the stage has no load balancer
	private any // nil when the stage needs no private subnets
	cidr    any // the VPC's CIDR block, for security group rules
}

// Parameter and condition names of the network.
const (
	paramVpc     = "VpcId"
	paramPublic  = "PublicSubnetIds"
	paramPrivate = "PrivateSubnetIds"
	paramCIDR    = "VpcCidr"
	condCreate   = "CreateVpc"
)

// addNetwork adds the VPC parameters and, under the CreateVpc condition
// (VpcId left empty), a VPC across 3 AZs (Fn::GetAZs): public subnets
// routed to an internet gateway and, with private, private subnets routed
// to a NAT gateway (Fargate tasks pull images from ECR through it).
//
// Only the subnet parameters the stage uses are declared: public ones
// for a load balancer (publicParam), private ones for instances.
func addNetwork(t *template, publicParam, private bool) network {
	t.param(paramVpc, obj{"Type": "String", "Default": "",
		"Description": "An existing VPC to use; empty creates a VPC with 3 public and 3 private subnets across AZs"})
	if publicParam {
		t.param(paramPublic, obj{"Type": "CommaDelimitedList", "Default": "",
			"Description": "With VpcId: its public subnets (for the load balancer), in different AZs"})
	}
	t.param(paramCIDR, obj{"Type": "String", "Default": "10.0.0.0/16",
		"Description": "The created VPC's CIDR block, or the given VPC's (security groups allow it)"})
	if private {
		t.param(paramPrivate, obj{"Type": "CommaDelimitedList", "Default": "",
			"Description": "With VpcId: its private subnets with a route out (for the instances), in different AZs"})
	}
	t.conds[condCreate] = obj{"Fn::Equals": list{ref(paramVpc), ""}}
	// Given a VPC, its subnets must be given too: a rule refuses the
	// parameters before anything is created.
	var asserts list
	subnets := func(param, what string) {
		asserts = append(asserts, obj{
			"Assert":            obj{"Fn::Not": list{obj{"Fn::EachMemberEquals": list{ref(param), ""}}}},
			"AssertDescription": "With VpcId, " + param + " must list the VPC's " + what,
		})
	}
	if publicParam {
		subnets(paramPublic, "public subnets (for the load balancer)")
	}
	if private {
		subnets(paramPrivate, "private subnets with a route out (for the instances)")
	}
	if len(asserts) > 0 {
		t.rules["SubnetsOfTheGivenVpc"] = obj{
			"RuleCondition": obj{"Fn::Not": list{obj{"Fn::Equals": list{ref(paramVpc), ""}}}},
			"Assertions":    asserts,
		}
	}
	when := obj{"Condition": condCreate}

	t.add("Vpc", "AWS::EC2::VPC", obj{
		"CidrBlock": ref(paramCIDR), "EnableDnsHostnames": true, "EnableDnsSupport": true,
	}, when)
	t.add("InternetGateway", "AWS::EC2::InternetGateway", obj{}, when)
	t.add("InternetGatewayAttachment", "AWS::EC2::VPCGatewayAttachment", obj{
		"VpcId": ref("Vpc"), "InternetGatewayId": ref("InternetGateway"),
	}, when)
	t.add("PublicRouteTable", "AWS::EC2::RouteTable", obj{"VpcId": ref("Vpc")}, when)
	t.add("PublicRoute", "AWS::EC2::Route", obj{
		"RouteTableId": ref("PublicRouteTable"), "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": ref("InternetGateway"),
	}, when, obj{"DependsOn": "InternetGatewayAttachment"})
	var public, priv list
	for i := range azs {
		az := obj{"Fn::Select": list{i, obj{"Fn::GetAZs": ""}}}
		// /20 blocks: 0-2 public, 3-5 private (Fn::Cidr splits the VPC's).
		cidr := func(n int) obj {
			return obj{"Fn::Select": list{n, obj{"Fn::Cidr": list{ref(paramCIDR), 6, 12}}}}
		}
		pub := fmt.Sprintf("PublicSubnet%d", i+1)
		t.add(pub, "AWS::EC2::Subnet", obj{
			"VpcId": ref("Vpc"), "AvailabilityZone": az, "CidrBlock": cidr(i), "MapPublicIpOnLaunch": true,
		}, when)
		t.add(pub+"RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", obj{
			"SubnetId": ref(pub), "RouteTableId": ref("PublicRouteTable"),
		}, when)
		public = append(public, ref(pub))
		if !private {
			continue
		}
		prv := fmt.Sprintf("PrivateSubnet%d", i+1)
		t.add(prv, "AWS::EC2::Subnet", obj{
			"VpcId": ref("Vpc"), "AvailabilityZone": az, "CidrBlock": cidr(azs + i), "MapPublicIpOnLaunch": false,
		}, when)
		t.add(prv+"RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", obj{
			"SubnetId": ref(prv), "RouteTableId": ref("PrivateRouteTable"),
		}, when)
		priv = append(priv, ref(prv))
	}
	n := network{
		vpc:  ifThen(condCreate, ref("Vpc"), ref(paramVpc)),
		cidr: ref(paramCIDR),
	}
	if publicParam {
		n.public = ifThen(condCreate, public, ref(paramPublic))
	}
	if private {
		// One NAT gateway (not one per AZ): the cheaper shape TinyStacks
		// chose too; an AZ outage stops egress, not serving.
		t.add("NatAddress", "AWS::EC2::EIP", obj{"Domain": "vpc"}, when, obj{"DependsOn": "InternetGatewayAttachment"})
		t.add("NatGateway", "AWS::EC2::NatGateway", obj{
			"AllocationId": getAtt("NatAddress", "AllocationId"), "SubnetId": ref("PublicSubnet1"),
		}, when)
		t.add("PrivateRouteTable", "AWS::EC2::RouteTable", obj{"VpcId": ref("Vpc")}, when)
		t.add("PrivateRoute", "AWS::EC2::Route", obj{
			"RouteTableId": ref("PrivateRouteTable"), "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": ref("NatGateway"),
		}, when)
		n.private = ifThen(condCreate, priv, ref(paramPrivate))
	}
	return n
}
