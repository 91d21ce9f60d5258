//! Network: a VPC with two public subnets in two availability zones.
//!
//! There is no NAT gateway: the API tasks run in the public subnets with public addresses (for
//! pulling the image and calling AWS APIs) while their security group admits traffic from the
//! load balancer only. That keeps a dev stage's fixed cost to the load balancer.

use typed_cloudformation::generated::ec2;
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::ResourceOptions;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{Value, availability_zones, select};

use super::Built;

pub struct Outputs {
    pub vpc: Handle<ec2::Vpc>,
    pub public_subnets: Vec<Handle<ec2::Subnet>>,
}

impl Outputs {
    pub fn subnet_ids(&self) -> Vec<Value<String>> {
        self.public_subnets.iter().map(Handle::reference).collect()
    }
}

pub fn stack(app: &App) -> Built<Outputs> {
    let mut stack = app.new_stack("network", "EventForge network: VPC and public subnets");
    let vpc = stack.add(
        "Vpc",
        ec2::Vpc::new()
            .cidr_block("10.0.0.0/16")
            .enable_dns_hostnames(true)
            .enable_dns_support(true),
    );
    let gateway = stack.add("InternetGateway", ec2::InternetGateway::new());
    let attachment = stack.add(
        "InternetGatewayAttachment",
        ec2::VpcGatewayAttachment::new(vpc.reference()).internet_gateway_id(gateway.reference()),
    );
    let routes = stack.add("PublicRouteTable", ec2::RouteTable::new(vpc.reference()));
    stack.add_with(
        "PublicDefaultRoute",
        ec2::Route::new(routes.reference())
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(gateway.reference()),
        // The route is only valid once the gateway is attached to the VPC.
        ResourceOptions::default().depends_on(&attachment),
    );
    let public_subnets = (0..2u32)
        .map(|zone| {
            let subnet = stack.add(
                &format!("PublicSubnet{}", zone + 1),
                ec2::Subnet::new(vpc.reference())
                    .cidr_block(format!("10.0.{zone}.0/24"))
                    .availability_zone(select(zone, availability_zones()))
                    .map_public_ip_on_launch(true),
            );
            stack.add(
                &format!("PublicSubnet{}Routes", zone + 1),
                ec2::SubnetRouteTableAssociation::new(routes.reference(), subnet.reference()),
            );
            subnet
        })
        .collect();
    Built {
        stack,
        outputs: Outputs {
            vpc,
            public_subnets,
        },
    }
}
