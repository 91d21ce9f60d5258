//! What the API stack costs per month while it runs: what `teardown-ecs` stops paying.
//!
//! Price assumptions (us-east-1 on-demand list prices, no free tier, no savings plans):
//! - Fargate Linux, per hour: ARM64 $0.03238 per vCPU and $0.00356 per GB; x86_64 $0.04048 per
//!   vCPU and $0.004445 per GB.
//! - Application Load Balancer: $0.0225 per hour plus one LCU ($0.008 per LCU-hour), which covers
//!   light traffic.
//! - Public IPv4 addresses: $0.005 per hour each; the ALB holds one per subnet, each task one.
//! - CloudWatch: $0.10 per alarm-month (standard resolution), $3.00 per dashboard-month (the
//!   account's first three are free, which a platform cannot count on).
//! - A month is 730 hours. Data transfer, logs and the NAT-free VPC are not counted.

use serde_json::Value as Json;

pub const HOURS_PER_MONTH: f64 = 730.0;
const ARM_VCPU_HOUR: f64 = 0.03238;
const ARM_GB_HOUR: f64 = 0.00356;
const X86_VCPU_HOUR: f64 = 0.04048;
const X86_GB_HOUR: f64 = 0.004445;
const ALB_HOUR: f64 = 0.0225;
const LCU_HOUR: f64 = 0.008;
const IPV4_HOUR: f64 = 0.005;
const ALARM_MONTH: f64 = 0.10;
const DASHBOARD_MONTH: f64 = 3.00;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiCost {
    pub vcpu: f64,
    pub memory_gb: f64,
    pub tasks: u32,
    pub arm64: bool,
    pub load_balancers: u32,
    pub public_ips: u32,
    pub fargate_monthly: f64,
    pub load_balancer_monthly: f64,
    pub ipv4_monthly: f64,
    /// The stack's own alarms and dashboards.
    pub alarms: u32,
    pub dashboards: u32,
    pub watch_monthly: f64,
}

impl ApiCost {
    pub fn total_monthly(&self) -> f64 {
        self.fargate_monthly + self.load_balancer_monthly + self.ipv4_monthly + self.watch_monthly
    }

    pub const ASSUMPTIONS: &'static str = "us-east-1 on-demand: Fargate ARM64 $0.03238/vCPU-h + $0.00356/GB-h \
        (x86_64 $0.04048 + $0.004445), ALB $0.0225/h + 1 LCU at $0.008/h, public IPv4 $0.005/h \
        (one per ALB subnet and per task), CloudWatch alarm $0.10/month, dashboard $3/month, \
        730 h/month; data transfer and logs not counted";
}

fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(number) => number.as_f64(),
        Json::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// The monthly cost of the API stack's template at its synthesised sizes; `None` when it has no
/// Fargate service.
pub fn api_monthly_cost(template: &Json) -> Option<ApiCost> {
    let resources = template["Resources"].as_object()?;
    let of_type = |wanted: &'static str| {
        resources
            .values()
            .filter(move |resource| resource["Type"] == wanted)
    };
    let task = of_type("AWS::ECS::TaskDefinition").next()?;
    let service = of_type("AWS::ECS::Service").next()?;
    let vcpu = number(&task["Properties"]["Cpu"])? / 1024.0;
    let memory_gb = number(&task["Properties"]["Memory"])? / 1024.0;
    let tasks = number(&service["Properties"]["DesiredCount"]).unwrap_or(1.0) as u32;
    let arm64 = task
        .pointer("/Properties/RuntimePlatform/CpuArchitecture")
        .is_some_and(|architecture| architecture == "ARM64");
    let (vcpu_hour, gb_hour) = if arm64 {
        (ARM_VCPU_HOUR, ARM_GB_HOUR)
    } else {
        (X86_VCPU_HOUR, X86_GB_HOUR)
    };
    let balancers: Vec<&Json> = of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").collect();
    let balancer_ips: u32 = balancers
        .iter()
        .map(|balancer| {
            balancer["Properties"]["Subnets"]
                .as_array()
                .map_or(2, Vec::len) as u32
        })
        .sum();
    let task_ips = if service
        .pointer("/Properties/NetworkConfiguration/AwsvpcConfiguration/AssignPublicIp")
        .is_some_and(|assign| assign == "ENABLED")
    {
        tasks
    } else {
        0
    };
    let public_ips = balancer_ips + task_ips;
    let alarms = of_type("AWS::CloudWatch::Alarm").count() as u32;
    let dashboards = of_type("AWS::CloudWatch::Dashboard").count() as u32;
    Some(ApiCost {
        vcpu,
        memory_gb,
        tasks,
        arm64,
        load_balancers: balancers.len() as u32,
        public_ips,
        fargate_monthly: f64::from(tasks)
            * (vcpu * vcpu_hour + memory_gb * gb_hour)
            * HOURS_PER_MONTH,
        load_balancer_monthly: balancers.len() as f64 * (ALB_HOUR + LCU_HOUR) * HOURS_PER_MONTH,
        ipv4_monthly: f64::from(public_ips) * IPV4_HOUR * HOURS_PER_MONTH,
        alarms,
        dashboards,
        watch_monthly: f64::from(alarms) * ALARM_MONTH + f64::from(dashboards) * DASHBOARD_MONTH,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_quarter_vcpu_arm_task_behind_one_alb_costs_about_thirty_dollars_a_month() {
        let template = json!({ "Resources": {
            "Task": { "Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Cpu": "256", "Memory": "512", "RuntimePlatform": { "CpuArchitecture": "ARM64" } } },
            "Service": { "Type": "AWS::ECS::Service", "Properties": { "DesiredCount": 1,
                "NetworkConfiguration": { "AwsvpcConfiguration": { "AssignPublicIp": "ENABLED" } } } },
            "Alb": { "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": { "Subnets": ["a", "b"] } },
            "Errors": { "Type": "AWS::CloudWatch::Alarm", "Properties": {} },
            "Latency": { "Type": "AWS::CloudWatch::Alarm", "Properties": {} },
            "Board": { "Type": "AWS::CloudWatch::Dashboard", "Properties": {} },
        }});
        let cost = api_monthly_cost(&template).unwrap();
        assert_eq!(
            (cost.tasks, cost.public_ips, cost.load_balancers),
            (1, 3, 1)
        );
        assert!(
            (cost.fargate_monthly - 7.21).abs() < 0.01,
            "{}",
            cost.fargate_monthly
        );
        assert!((cost.load_balancer_monthly - 22.27).abs() < 0.01);
        assert!((cost.ipv4_monthly - 10.95).abs() < 0.01);
        assert_eq!((cost.alarms, cost.dashboards), (2, 1));
        assert!((cost.watch_monthly - 3.20).abs() < 0.001);
        assert!((cost.total_monthly() - (7.21 + 22.27 + 10.95 + 3.20)).abs() < 0.02);
    }

    #[test]
    fn a_template_without_a_service_has_no_cost() {
        assert!(api_monthly_cost(&json!({ "Resources": {} })).is_none());
    }
}
