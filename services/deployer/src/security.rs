//! What a deploy would widen: access granted by IAM (identity and resource policies, Lambda
//! permissions, trust policies, managed policies attached), network ingress, and endpoints open
//! to the internet. Both templates are read into the same typed grants, and a widening is a
//! grant the proposed template has and the deployed one does not; so reordering, reformatting
//! or narrowing never asks for approval, and one new action on an existing statement does.
//!
//! Statements are compared in atoms (effect, principal, action, resource, condition): a
//! statement gaining a resource is one new atom. Removing a `Deny` also widens access, and is
//! reported too.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value as Json;

use crate::deploy::Deployer;
use crate::error::DeployError;
use crate::plan::Plan;

/// What one stack's deploy would change, for the approval before a deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct StackReview {
    pub stack: String,
    /// False for a stack deployed for the first time.
    pub deployed: bool,
    /// Whether the template differs from the deployed one at all.
    pub changed: bool,
    pub widenings: Vec<Widening>,
}

impl RequireApproval {
    /// Whether these reviews need a person's yes under this setting.
    pub fn needs_approval(self, reviews: &[StackReview]) -> bool {
        match self {
            Self::Never => false,
            Self::Broadening => reviews.iter().any(|review| !review.widenings.is_empty()),
            Self::AnyChange => reviews.iter().any(|review| review.changed),
        }
    }
}

/// Compares each selected stack's template (`only`; empty: every stack) with the one deployed,
/// one `GetTemplate` per stack.
pub async fn review(
    deployer: &Deployer,
    plan: &Plan,
    only: &[String],
) -> Result<Vec<StackReview>, DeployError> {
    let mut reviews = Vec::new();
    for stack in &plan.stacks {
        if !(only.is_empty() || only.contains(&stack.name)) {
            continue;
        }
        let (proposed, _) = deployer.template_for(stack);
        let deployed =
            crate::cfn::deployed_template(deployer.cloudformation(), &stack.name).await?;
        reviews.push(StackReview {
            stack: stack.name.clone(),
            deployed: deployed.is_some(),
            changed: deployed.as_ref() != Some(&proposed),
            widenings: widenings(deployed.as_ref(), &proposed),
        });
    }
    Ok(reviews)
}

/// How much must be approved before a deploy goes ahead (CDK's `--require-approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequireApproval {
    /// Never ask (CI).
    Never,
    /// Ask when access would widen.
    #[default]
    Broadening,
    /// Ask when any stack would change.
    AnyChange,
}

/// One grant a template makes, in a form two templates can be compared in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// An IAM statement atom: identity policies (`principal` is the role or policy holding
    /// it) and resource policies alike.
    Statement {
        effect: String,
        principal: String,
        action: String,
        resource: String,
        condition: String,
    },
    /// A role that may be assumed by `principal`.
    Trust { principal: String, action: String },
    /// A managed policy attached to a role.
    ManagedPolicy { policy: String },
    /// Traffic admitted by a security group.
    Ingress {
        protocol: String,
        ports: String,
        source: String,
    },
    /// Reachable from the internet.
    PublicEndpoint { what: String },
}

/// A grant of one resource that the deployed template does not make.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Widening {
    /// The logical id of the resource making the grant.
    pub resource: String,
    /// Its CloudFormation type.
    pub resource_type: String,
    pub grant: Grant,
    /// True when the grant is a `Deny` that the proposed template drops.
    pub deny_removed: bool,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Statement {
                effect,
                principal,
                action,
                resource,
                condition,
            } => {
                write!(f, "{effect} {principal}: {action} on {resource}")?;
                if !condition.is_empty() {
                    write!(f, " when {condition}")?;
                }
                Ok(())
            }
            Self::Trust { principal, action } => write!(f, "{principal} may {action}"),
            Self::ManagedPolicy { policy } => write!(f, "managed policy {policy} attached"),
            Self::Ingress {
                protocol,
                ports,
                source,
            } => write!(f, "ingress {protocol} {ports} from {source}"),
            Self::PublicEndpoint { what } => write!(f, "public endpoint: {what}"),
        }
    }
}

/// The widenings `proposed` makes over `deployed` (`None`: the stack is new, so every grant
/// widens), sorted by resource.
pub fn widenings(deployed: Option<&Json>, proposed: &Json) -> Vec<Widening> {
    let before: BTreeSet<(String, String, Grant)> = deployed.map(grants).unwrap_or_default();
    let after = grants(proposed);
    let mut found: Vec<Widening> = after
        .difference(&before)
        .filter(|(_, _, grant)| !is_deny(grant))
        .map(|(resource, resource_type, grant)| Widening {
            resource: resource.clone(),
            resource_type: resource_type.clone(),
            grant: grant.clone(),
            deny_removed: false,
        })
        .collect();
    found.extend(
        before
            .difference(&after)
            .filter(|(_, _, grant)| is_deny(grant))
            .map(|(resource, resource_type, grant)| Widening {
                resource: resource.clone(),
                resource_type: resource_type.clone(),
                grant: grant.clone(),
                deny_removed: true,
            }),
    );
    found.sort();
    found
}

fn is_deny(grant: &Grant) -> bool {
    matches!(grant, Grant::Statement { effect, .. } if effect == "Deny")
}

/// Every grant of a template, with the logical id and type of the resource making it.
pub fn grants(template: &Json) -> BTreeSet<(String, String, Grant)> {
    let mut all = BTreeSet::new();
    let Some(resources) = template.get("Resources").and_then(Json::as_object) else {
        return all;
    };
    for (id, resource) in resources {
        let kind = resource
            .get("Type")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let properties = resource.get("Properties").unwrap_or(&Json::Null);
        for grant in resource_grants(id, kind, properties) {
            all.insert((id.clone(), kind.to_owned(), grant));
        }
    }
    all
}

fn resource_grants(id: &str, kind: &str, properties: &Json) -> Vec<Grant> {
    let property = |name: &str| properties.get(name).unwrap_or(&Json::Null);
    let holder = format!("role/policy {id}");
    match kind {
        "AWS::IAM::Role" => {
            let mut found = Vec::new();
            for policy in list(property("Policies")) {
                found.extend(statements(policy.get("PolicyDocument"), &holder));
            }
            for statement in document_statements(properties.get("AssumeRolePolicyDocument")) {
                for principal in principals(statement.get("Principal")) {
                    for action in strings(statement.get("Action")) {
                        found.push(Grant::Trust {
                            principal: principal.clone(),
                            action,
                        });
                    }
                }
            }
            found.extend(
                list(property("ManagedPolicyArns"))
                    .map(|arn| Grant::ManagedPolicy { policy: text(arn) }),
            );
            found
        }
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy" => {
            statements(properties.get("PolicyDocument"), &holder)
        }
        "AWS::S3::BucketPolicy"
        | "AWS::SQS::QueuePolicy"
        | "AWS::SNS::TopicPolicy"
        | "AWS::SecretsManager::ResourcePolicy" => {
            let document = properties
                .get("PolicyDocument")
                .or_else(|| properties.get("ResourcePolicy"));
            statements(document, "")
        }
        "AWS::KMS::Key" => statements(properties.get("KeyPolicy"), ""),
        "AWS::ECR::Repository" => statements(properties.get("RepositoryPolicyText"), ""),
        "AWS::Lambda::Permission" => vec![Grant::Statement {
            effect: "Allow".to_owned(),
            principal: text(property("Principal")),
            action: text(property("Action")),
            resource: text(property("FunctionName")),
            condition: [
                ("SourceArn", property("SourceArn")),
                ("SourceAccount", property("SourceAccount")),
            ]
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| format!("{key}={}", text(value)))
            .collect::<Vec<_>>()
            .join(", "),
        }],
        "AWS::EC2::SecurityGroup" => list(property("SecurityGroupIngress"))
            .map(ingress)
            .collect(),
        "AWS::EC2::SecurityGroupIngress" => vec![ingress(properties)],
        "AWS::ElasticLoadBalancingV2::LoadBalancer"
            if properties.get("Scheme").and_then(Json::as_str) != Some("internal") =>
        {
            vec![Grant::PublicEndpoint {
                what: format!("internet-facing load balancer {id}"),
            }]
        }
        "AWS::CloudFront::Distribution" => vec![Grant::PublicEndpoint {
            what: format!("CloudFront distribution {id}"),
        }],
        "AWS::Lambda::Url" if properties.get("AuthType").and_then(Json::as_str) == Some("NONE") => {
            vec![Grant::PublicEndpoint {
                what: format!("function URL {id} without authentication"),
            }]
        }
        "AWS::ApiGateway::RestApi" | "AWS::ApiGatewayV2::Api" => vec![Grant::PublicEndpoint {
            what: format!("API Gateway {id}"),
        }],
        "AWS::S3::Bucket" => {
            let block = property("PublicAccessBlockConfiguration");
            [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ]
            .iter()
            .filter(|setting| block.get(**setting).and_then(Json::as_bool) != Some(true))
            .map(|setting| Grant::PublicEndpoint {
                what: format!("bucket {id} without {setting}"),
            })
            .collect()
        }
        _ => Vec::new(),
    }
}

fn ingress(rule: &Json) -> Grant {
    let field = |name: &str| rule.get(name).filter(|value| !value.is_null());
    let source = [
        "CidrIp",
        "CidrIpv6",
        "SourcePrefixListId",
        "SourceSecurityGroupId",
    ]
    .iter()
    .find_map(|key| field(key).map(|value| format!("{key} {}", text(value))))
    .unwrap_or_else(|| "anywhere".to_owned());
    let protocol = field("IpProtocol").map_or_else(|| "-1".to_owned(), text);
    let ports = match (field("FromPort"), field("ToPort")) {
        (Some(from), Some(to)) if from == to => format!("port {}", text(from)),
        (Some(from), Some(to)) => format!("ports {}-{}", text(from), text(to)),
        _ => "all ports".to_owned(),
    };
    Grant::Ingress {
        protocol,
        ports,
        source,
    }
}

/// Each statement of a policy document split into atoms; `holder` is the principal of an
/// identity policy (resource policies name their own).
fn statements(document: Option<&Json>, holder: &str) -> Vec<Grant> {
    let mut found = Vec::new();
    for statement in document_statements(document) {
        let effect = statement
            .get("Effect")
            .and_then(Json::as_str)
            .unwrap_or("Allow")
            .to_owned();
        let named = principals(statement.get("Principal"));
        let principals = if named.is_empty() {
            vec![holder.to_owned()]
        } else {
            named
        };
        let actions = strings(
            statement
                .get("Action")
                .or_else(|| statement.get("NotAction")),
        );
        let resources = strings(
            statement
                .get("Resource")
                .or_else(|| statement.get("NotResource")),
        );
        let condition = statement.get("Condition").map(text).unwrap_or_default();
        for principal in &principals {
            for action in &actions {
                for resource in &resources {
                    found.push(Grant::Statement {
                        effect: effect.clone(),
                        principal: principal.clone(),
                        action: action.clone(),
                        resource: resource.clone(),
                        condition: condition.clone(),
                    });
                }
            }
        }
    }
    found
}

fn document_statements(document: Option<&Json>) -> Vec<&Json> {
    match document.and_then(|d| d.get("Statement")) {
        Some(Json::Array(statements)) => statements.iter().collect(),
        Some(statement @ Json::Object(_)) => vec![statement],
        _ => Vec::new(),
    }
}

/// `"*"`, `{"Service": "lambda.amazonaws.com"}` or `{"AWS": [..]}` as `Service lambda...` each.
fn principals(principal: Option<&Json>) -> Vec<String> {
    match principal {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(any)) => vec![any.clone()],
        Some(Json::Object(kinds)) => kinds
            .iter()
            .flat_map(|(kind, values)| {
                strings(Some(values))
                    .into_iter()
                    .map(move |value| format!("{kind} {value}"))
            })
            .collect(),
        Some(other) => vec![text(other)],
    }
}

/// A string or a list of them (or of intrinsics), each as text; nothing when absent.
fn strings(value: Option<&Json>) -> Vec<String> {
    match value {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.iter().map(text).collect(),
        Some(one) => vec![text(one)],
    }
}

fn list(value: &Json) -> impl Iterator<Item = &Json> {
    value.as_array().into_iter().flatten()
}

/// A value as one line: a string as itself, anything else (an intrinsic) as compact JSON,
/// whose object keys serde_json keeps sorted, so equal values read the same.
fn text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(resources: Json) -> Json {
        json!({ "Resources": resources })
    }

    fn role(statements: Json) -> Json {
        template(json!({
            "Role": { "Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": { "Statement": [
                    { "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }
                ]},
                "Policies": [{ "PolicyName": "p", "PolicyDocument": { "Statement": statements } }]
            }}
        }))
    }

    fn grants_of(widenings: &[Widening]) -> Vec<String> {
        widenings
            .iter()
            .map(|w| format!("{}: {}", w.resource, w.grant))
            .collect()
    }

    #[test]
    fn a_new_action_on_an_existing_statement_widens_by_that_action_only() {
        let before =
            role(json!([{ "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q" }]));
        let after = role(
            json!([{ "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:DeleteQueue"], "Resource": "arn:q" }]),
        );
        assert_eq!(
            grants_of(&widenings(Some(&before), &after)),
            ["Role: Allow role/policy Role: sqs:DeleteQueue on arn:q"]
        );
    }

    #[test]
    fn reordering_narrowing_or_an_unchanged_template_widens_nothing() {
        let before = role(json!([
            { "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:a", "arn:b"] }
        ]));
        let reordered = role(json!([
            { "Resource": ["arn:b", "arn:a"], "Action": ["s3:PutObject", "s3:GetObject"], "Effect": "Allow" }
        ]));
        let narrowed =
            role(json!([{ "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:a" }]));
        assert!(widenings(Some(&before), &before).is_empty());
        assert!(widenings(Some(&before), &reordered).is_empty());
        assert!(widenings(Some(&before), &narrowed).is_empty());
    }

    #[test]
    fn a_new_trusted_principal_and_a_managed_policy_widen() {
        let before = role(json!([]));
        let mut after = before.clone();
        after["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            ["AWS"] = json!("arn:aws:iam::999999999999:root");
        after["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] =
            json!(["arn:aws:iam::aws:policy/AdministratorAccess"]);
        assert_eq!(
            grants_of(&widenings(Some(&before), &after)),
            [
                "Role: AWS arn:aws:iam::999999999999:root may sts:AssumeRole",
                "Role: managed policy arn:aws:iam::aws:policy/AdministratorAccess attached",
            ]
        );
    }

    #[test]
    fn resource_policies_and_lambda_permissions_name_their_own_principal() {
        let before = template(json!({}));
        let after = template(json!({
            "QueuePolicy": { "Type": "AWS::SQS::QueuePolicy", "Properties": { "Queues": [{ "Ref": "Q" }], "PolicyDocument": { "Statement": [
                { "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" }, "Action": "sqs:SendMessage", "Resource": { "Fn::GetAtt": ["Q", "Arn"] },
                  "Condition": { "ArnEquals": { "aws:SourceArn": "arn:rule" } } }
            ]}}},
            "Invoke": { "Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": { "Ref": "F" }, "Principal": "s3.amazonaws.com" } }
        }));
        assert_eq!(
            grants_of(&widenings(Some(&before), &after)),
            [
                "Invoke: Allow s3.amazonaws.com: lambda:InvokeFunction on {\"Ref\":\"F\"}",
                "QueuePolicy: Allow Service events.amazonaws.com: sqs:SendMessage on {\"Fn::GetAtt\":[\"Q\",\"Arn\"]} when {\"ArnEquals\":{\"aws:SourceArn\":\"arn:rule\"}}",
            ]
        );
    }

    #[test]
    fn ingress_from_a_new_source_widens_and_the_same_rule_does_not() {
        let group = |rules: Json| {
            template(
                json!({ "Sg": { "Type": "AWS::EC2::SecurityGroup", "Properties": { "SecurityGroupIngress": rules } } }),
            )
        };
        let prefix_list = json!({ "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "SourcePrefixListId": "pl-1" });
        let anywhere =
            json!({ "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0" });
        let before = group(json!([prefix_list]));
        assert!(widenings(Some(&before), &group(json!([prefix_list]))).is_empty());
        assert_eq!(
            grants_of(&widenings(
                Some(&before),
                &group(json!([prefix_list, anywhere]))
            )),
            ["Sg: ingress tcp port 80 from CidrIp 0.0.0.0/0"]
        );
    }

    #[test]
    fn new_public_endpoints_widen() {
        let after = template(json!({
            "Alb": { "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": { "Scheme": "internet-facing" } },
            "Internal": { "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": { "Scheme": "internal" } },
            "Url": { "Type": "AWS::Lambda::Url", "Properties": { "AuthType": "NONE" } },
            "Site": { "Type": "AWS::CloudFront::Distribution", "Properties": {} },
            "Bucket": { "Type": "AWS::S3::Bucket", "Properties": { "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true, "BlockPublicPolicy": false, "IgnorePublicAcls": true, "RestrictPublicBuckets": true } } }
        }));
        assert_eq!(
            grants_of(&widenings(Some(&template(json!({}))), &after)),
            [
                "Alb: public endpoint: internet-facing load balancer Alb",
                "Bucket: public endpoint: bucket Bucket without BlockPublicPolicy",
                "Site: public endpoint: CloudFront distribution Site",
                "Url: public endpoint: function URL Url without authentication",
            ]
        );
    }

    #[test]
    fn dropping_a_deny_widens() {
        let before =
            role(json!([{ "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*" }]));
        let after = role(json!([]));
        let found = widenings(Some(&before), &after);
        assert_eq!(
            grants_of(&found),
            ["Role: Deny role/policy Role: s3:DeleteObject on *"]
        );
        assert!(found[0].deny_removed);
    }

    #[test]
    fn a_new_stack_widens_by_every_grant_it_makes() {
        let after =
            role(json!([{ "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q" }]));
        assert_eq!(widenings(None, &after).len(), 2);
    }
}
