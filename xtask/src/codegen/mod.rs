//! `cargo xtask codegen`: generate the typed CloudFormation resources of `stacks/typed-cloudformation/src/generated/`
//! from the official resource provider schemas shipped in the `cfn-lint` PyPI package.
//!
//! This is how troposphere, goformation and the CDK's L1 layer stay correct: the types are never
//! written by hand. Only the resource types the platform uses are generated (see [`ALLOWLIST`]),
//! which keeps `typed-cloudformation` quick to compile. The output is committed, and a test
//! (`xtask/tests/codegen_no_diff.rs`) regenerates it into a temporary directory to prove that the
//! committed code is exactly what this generator produces from the pinned schemas.

mod emit;
mod model;
mod schemas;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

/// The cfn-lint release whose schemas the committed code was generated from.
pub const CFN_LINT_VERSION: &str = "1.51.0";

/// Every CloudFormation resource type the platform's stacks use. Adding a type here and running
/// `cargo xtask codegen` is the only way to make a new resource type available to `typed-cloudformation`.
pub const ALLOWLIST: &[&str] = &[
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolGroup",
    "AWS::DynamoDB::Table",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::Route",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::Subnet",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::ECR::Repository",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::IAM::OIDCProvider",
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::Logs::MetricFilter",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",
];

#[derive(Args)]
pub struct CodegenArgs {
    /// Directory to write the generated modules into.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "stacks/typed-cloudformation/src/generated"
    )]
    out: PathBuf,
    /// Directory holding cfn-lint's `data/schemas` (found through `python3` when omitted).
    #[arg(long, value_name = "DIR", env = "EVENTFORGE_CFN_SCHEMAS")]
    schemas: Option<PathBuf>,
}

pub fn run(args: CodegenArgs) -> Result<()> {
    let schema_dir = match args.schemas {
        Some(dir) => dir,
        None => schemas::locate()?,
    };
    let files = generate(&schema_dir)?;
    write_all(&args.out, &files)?;
    println!(
        "generated {} resource types into {}",
        ALLOWLIST.len(),
        args.out.display()
    );
    Ok(())
}

/// Generates every module as `(relative path, formatted source)`, sorted by path.
pub fn generate(schema_dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let resources = ALLOWLIST
        .iter()
        .map(|type_name| {
            let schema = schemas::load(schema_dir, type_name)?;
            model::Resource::from_schema(type_name, &schema)
                .with_context(|| format!("cannot model {type_name}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let files = emit::files(&resources);
    files
        .into_iter()
        .map(|(path, source)| Ok((path, emit::rustfmt(&source)?)))
        .collect()
}

fn write_all(out: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    // Stale modules of types removed from the allowlist must not survive a regeneration.
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    for (relative, source) in files {
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, source)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
