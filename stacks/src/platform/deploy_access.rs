//! Deploy access: the role GitHub Actions assumes through OIDC to run `cargo xtask deploy`, and
//! the role CloudFormation assumes to create the platform's resources.
//!
//! The split follows CDK's bootstrap model: the GitHub role may only drive this stage's stacks,
//! upload assets, push the API image, hot-swap code and invalidate the dashboard cache; creating
//! resources is CloudFormation's job, under the execution role that only CloudFormation can
//! assume. Nothing here exists until `GitHubRepository` is set: a role trusting a repository the
//! account owner never named must not appear by default.

use serde_json::json;

use typed_cloudformation::generated::iam;
use typed_cloudformation::handle::Handle;
use typed_cloudformation::iam::{Grants, Unscoped, trust_policy};
use typed_cloudformation::stack::{ConditionExpr, Parameter, ResourceOptions};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{Pseudo, Value};

use super::components::Bucket;
use super::{Built, Config, bootstrap, frontend};

/// GitHub's OIDC issuer, and the audience its tokens carry for AWS.
const GITHUB_ISSUER_HOST: &str = "token.actions.githubusercontent.com";
const GITHUB_AUDIENCE: &str = "sts.amazonaws.com";
/// What CloudFormation may create: every service the platform uses, without IAM, which follows
/// separately and is limited to this stage's roles.
const EXECUTION_MANAGED_POLICY: &str = "policy/PowerUserAccess";

pub struct Uses<'a> {
    pub assets: &'a bootstrap::Outputs,
    pub frontend: &'a frontend::Outputs,
}

pub fn stack(app: &App, config: &Config, uses: &Uses<'_>) -> Built<()> {
    let prefix = config.prefix();
    let mut stack = app.new_stack(
        "deploy-access",
        "EventForge deploy access: GitHub OIDC deploy role and CloudFormation execution role",
    );
    let repository = stack.parameter(
        "GitHubRepository",
        Parameter::string(
            "owner/name of the GitHub repository whose main branch may deploy (empty: no deploy role)",
        )
        .with_default("")
        .with_pattern("^$|^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"),
    );
    let existing_provider = stack.parameter(
        "GitHubOidcProviderArn",
        Parameter::string(
            "ARN of the account's existing GitHub OIDC provider (empty: this stack creates one; \
             an account holds at most one per issuer)",
        )
        .with_default(""),
    );
    let enabled = stack.condition(
        "HasGitHubRepository",
        !ConditionExpr::equals(repository.value(), Value::from(String::new())),
    );
    let creates_provider = stack.condition(
        "CreatesOidcProvider",
        ConditionExpr::And(vec![
            ConditionExpr::holds(&enabled),
            ConditionExpr::equals(existing_provider.value(), Value::from(String::new())),
        ]),
    );
    let provider = stack.add_with(
        "GitHubOidcProvider",
        iam::OidcProvider::new()
            .url(format!("https://{GITHUB_ISSUER_HOST}"))
            .client_id_list(vec![Value::from(GITHUB_AUDIENCE.to_owned())]),
        ResourceOptions::default().when(&creates_provider),
    );
    let provider_arn = creates_provider.choose(provider.arn(), existing_provider.value());

    let stage_roles = sub![
        "arn:",
        Pseudo::Partition.value(),
        ":iam::",
        Pseudo::AccountId.value(),
        ":role/",
        prefix.as_str(),
        "-*"
    ];
    let mut execution = Grants::new();
    execution.allow(
        &[
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:PassRole",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
        ],
        vec![stage_roles.clone()],
    );
    // ECS, Elastic Load Balancing and Application Auto Scaling create their service-linked roles
    // on first use in an account.
    execution.allow(
        &["iam:CreateServiceLinkedRole"],
        vec![sub![
            "arn:",
            Pseudo::Partition.value(),
            ":iam::",
            Pseudo::AccountId.value(),
            ":role/aws-service-role/*"
        ]],
    );
    let execution_role = stack.add_with(
        "CloudFormationExecutionRole",
        iam::Role::new(trust_policy("cloudformation.amazonaws.com"))
            .description(format!(
                "CloudFormation creates the {prefix} stacks' resources as this role"
            ))
            .managed_policy_arns(vec![sub![
                "arn:",
                Pseudo::Partition.value(),
                ":iam::aws:",
                EXECUTION_MANAGED_POLICY
            ]])
            .policies(vec![iam::role::Policy::new(
                execution.policy_document(),
                "stage-roles",
            )]),
        ResourceOptions::default().when(&enabled),
    );

    let github = github_grants(config, uses, &execution_role, &stage_roles);
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider_arn.to_json() },
            "Action": "sts:AssumeRoleWithWebIdentity",
            // A job that names a GitHub environment gets `repo:<repo>:environment:<name>` as its
            // subject, so only the deploy job of this stage's environment (where protection
            // rules, such as required reviewers for prod, apply) may assume the role.
            "Condition": {
                "StringEquals": {
                    format!("{GITHUB_ISSUER_HOST}:aud"): GITHUB_AUDIENCE,
                    format!("{GITHUB_ISSUER_HOST}:sub"):
                        sub!["repo:", repository.value(), ":environment:", config.stage.name()].to_json(),
                },
            },
        }],
    });
    let github_role = stack.add_with(
        "GitHubDeployRole",
        iam::Role::new(trust)
            .description(format!(
                "GitHub Actions in the repository's {} environment deploys {prefix} as this role",
                config.stage.name()
            ))
            .policies(vec![iam::role::Policy::new(
                github.policy_document(),
                "deploy",
            )]),
        ResourceOptions::default().when(&enabled),
    );
    stack.output_when(
        "GitHubDeployRoleArn",
        "Role for aws-actions/configure-aws-credentials in .github/workflows/deploy.yml",
        github_role.arn(),
        &enabled,
    );
    stack.output_when(
        "CloudFormationExecutionRoleArn",
        "Role the deployer hands to CloudFormation (deploy --cfn-execution-role)",
        execution_role.arn(),
        &enabled,
    );
    Built { stack, outputs: () }
}

/// Exactly what `cargo xtask deploy` (with `--hotswap`) calls, on this stage's resources.
fn github_grants(
    config: &Config,
    uses: &Uses<'_>,
    execution_role: &Handle<iam::Role>,
    stage_roles: &Value<String>,
) -> Grants {
    let prefix = config.prefix();
    let arn = |service: &str, resource: Value<String>| {
        sub![
            "arn:",
            Pseudo::Partition.value(),
            ":",
            service,
            ":",
            Pseudo::Region.value(),
            ":",
            Pseudo::AccountId.value(),
            ":",
            resource
        ]
    };
    let mut grants = Grants::new();
    grants.allow(
        &[
            "cloudformation:CreateChangeSet",
            "cloudformation:DeleteChangeSet",
            "cloudformation:DeleteStack",
            "cloudformation:DescribeChangeSet",
            "cloudformation:DescribeStackEvents",
            "cloudformation:DescribeStackResources",
            "cloudformation:DescribeStacks",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:GetTemplate",
            "cloudformation:ListChangeSets",
        ],
        vec![arn(
            "cloudformation",
            Value::from(format!("stack/{prefix}-*/*")),
        )],
    );
    grants.allow(&["iam:PassRole"], vec![execution_role.arn()]);
    for bucket in [
        uses.assets.asset_bucket.clone(),
        Bucket {
            handle: uses.frontend.bucket.clone(),
        },
    ] {
        bucket.grant_sync(&mut grants);
    }
    grants.allow_unscoped(Unscoped::EcrAuthorizationToken);
    grants.allow(
        &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:DescribeImages",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
        ],
        vec![uses.assets.repository.arn()],
    );
    grants.allow(
        &[
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode",
        ],
        vec![arn("lambda", Value::from(format!("function:{prefix}-*")))],
    );
    grants.allow(
        &["ecs:DescribeServices", "ecs:UpdateService"],
        vec![arn("ecs", Value::from(format!("service/{prefix}-api-*/*")))],
    );
    // A hot-swapped image is a new revision of the API's task definition, run by the stage's own
    // roles.
    grants.allow_unscoped(Unscoped::EcsTaskDefinitionReads);
    grants.allow(
        &["ecs:RegisterTaskDefinition"],
        vec![arn(
            "ecs",
            Value::from(format!(
                "task-definition/{}:*",
                super::api::task_family(config)
            )),
        )],
    );
    grants.allow(&["iam:PassRole"], vec![stage_roles.clone()]);
    // The api stack's CloudFrontPrefixListId parameter, looked up at every deploy.
    grants.allow_unscoped(Unscoped::ManagedPrefixListLookup);
    grants.allow(
        &[
            "cloudfront:CreateInvalidation",
            "cloudfront:GetInvalidation",
        ],
        vec![sub![
            "arn:",
            Pseudo::Partition.value(),
            ":cloudfront::",
            Pseudo::AccountId.value(),
            ":distribution/",
            uses.frontend.distribution.reference()
        ]],
    );
    grants
}
