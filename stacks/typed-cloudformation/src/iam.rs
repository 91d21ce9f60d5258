//! Least-privilege IAM derived from use.
//!
//! A role's permissions are a [`Grants`] value filled by the resources the role's owner uses
//! (`table.grant_read_write(&mut grants)`), never a hand-written policy. Every grant names exact
//! actions on exact ARNs; the only unscoped statements are the few actions AWS defines without
//! resource-level permissions, listed in [`Unscoped`].

use serde_json::json;

use crate::generated::iam;
use crate::handle::Handle;
use crate::stack::Stack;
use crate::value::{Json, Value};

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub actions: Vec<&'static str>,
    /// ARNs; empty for an [`Unscoped`] statement, which is rendered with `"Resource": "*"`.
    pub resources: Vec<Value<String>>,
}

/// Actions that IAM only accepts on `"Resource": "*"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unscoped {
    /// X-Ray segment upload: no resource-level permissions exist.
    XRayTracing,
    /// `ecr:GetAuthorizationToken`: the token is account-wide.
    EcrAuthorizationToken,
    /// The CloudWatch Logs "vended logs" delivery APIs that Step Functions logging needs.
    LogDelivery,
    /// Reading ECS task definitions (a hot-swap copies the current revision): no resource level.
    EcsTaskDefinitionReads,
    /// `dynamodb:ListStreams`, which a Lambda stream consumer needs: it lists the account's
    /// streams and has no resource level, so a grant scoped to a table's streams never matches.
    StreamListing,
    /// Looking up an AWS-managed prefix list's id by name (CloudFront's origin-facing servers,
    /// which the api stack's load balancer admits): Describe actions have no resource level.
    ManagedPrefixListLookup,
}

impl Unscoped {
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Self::XRayTracing => &[
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            ],
            Self::EcrAuthorizationToken => &["ecr:GetAuthorizationToken"],
            Self::LogDelivery => &[
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ],
            Self::EcsTaskDefinitionReads => &["ecs:DescribeTaskDefinition"],
            Self::StreamListing => &["dynamodb:ListStreams"],
            Self::ManagedPrefixListLookup => &["ec2:DescribeManagedPrefixLists"],
        }
    }
}

/// The permissions a principal needs, accumulated from the resources it uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    statements: Vec<Statement>,
}

impl Grants {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `actions` on exactly `resources`. Identical grants are kept once.
    pub fn allow(&mut self, actions: &[&'static str], resources: Vec<Value<String>>) {
        let statement = Statement {
            actions: sorted(actions),
            resources,
        };
        if !self.statements.contains(&statement) {
            self.statements.push(statement);
        }
    }

    /// Allows actions that have no resource-level permissions.
    pub fn allow_unscoped(&mut self, unscoped: Unscoped) {
        self.allow(unscoped.actions(), Vec::new());
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The IAM policy document.
    pub fn policy_document(&self) -> Json {
        let statements: Vec<Json> = self
            .statements
            .iter()
            .map(|statement| {
                let resource = if statement.resources.is_empty() {
                    json!("*")
                } else {
                    Json::Array(statement.resources.iter().map(Value::to_json).collect())
                };
                json!({ "Effect": "Allow", "Action": statement.actions, "Resource": resource })
            })
            .collect();
        json!({ "Version": "2012-10-17", "Statement": statements })
    }
}

fn sorted(actions: &[&'static str]) -> Vec<&'static str> {
    let mut actions = actions.to_vec();
    actions.sort_unstable();
    actions.dedup();
    actions
}

/// The trust policy letting an AWS service assume a role.
pub fn trust_policy(service: &str) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole",
        }],
    })
}

/// Adds a role that `service` assumes, holding exactly `grants` as its inline policy.
pub fn add_role(
    stack: &mut Stack,
    logical_id: &str,
    service: &str,
    description: &str,
    grants: &Grants,
) -> Handle<iam::Role> {
    let mut role = iam::Role::new(trust_policy(service)).description(description);
    if !grants.is_empty() {
        role = role.policies(vec![iam::role::Policy::new(
            grants.policy_document(),
            "least-privilege",
        )]);
    }
    stack.add(logical_id, role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscoped_actions_render_with_a_star_resource_and_nothing_else_does() {
        let mut grants = Grants::new();
        grants.allow(
            &["sqs:SendMessage"],
            vec!["arn:aws:sqs:eu-west-1:1:q".into()],
        );
        grants.allow_unscoped(Unscoped::XRayTracing);
        let document = grants.policy_document();
        assert_eq!(
            document["Statement"][0]["Resource"],
            json!(["arn:aws:sqs:eu-west-1:1:q"])
        );
        assert_eq!(document["Statement"][1]["Resource"], json!("*"));
        assert!(
            document["Statement"][1]["Action"]
                .as_array()
                .unwrap()
                .iter()
                .all(|action| action.as_str().unwrap().starts_with("xray:"))
        );
    }

    #[test]
    fn the_same_grant_twice_is_one_statement() {
        let mut grants = Grants::new();
        grants.allow(&["b:B", "a:A"], vec!["arn:x".into()]);
        grants.allow(&["a:A", "b:B"], vec!["arn:x".into()]);
        assert_eq!(grants.statements().len(), 1);
        assert_eq!(grants.statements()[0].actions, vec!["a:A", "b:B"]);
    }
}
