//! The security scanners over the synthesised templates, dev and prod, JSON and YAML:
//! - checkov reports no finding that the stacks neither fix nor accept with a reason, and every
//!   accepted finding is one checkov really makes (no stale justification hides a fixed one);
//! - every kind of accepted finding is listed with its decision in ARCHITECTURE.md;
//! - parliament finds nothing in the IAM policies the stacks grant.
//!
//! Needs `checkov` and `parliament` on PATH (`cargo xtask test` installs them from
//! `xtask/tools/requirements.txt`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use eventforge_stacks::platform::{self, Config, Stage};
use serde_json::{Value as Json, json};
use typed_cloudformation::manifest::Format;
use typed_cloudformation::synth::Assembly;

const STAGES: [Stage; 2] = [Stage::Dev, Stage::Prod];

fn assembly(stage: Stage) -> Assembly {
    platform::synth(&Config::for_stage(stage)).unwrap()
}

/// Runs checkov's CloudFormation checks over every template under `dir`; its JSON report.
fn checkov(dir: &Path) -> Json {
    let output = Command::new("checkov")
        // No call home: the check catalogue is the one in the pinned package.
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ])
        .arg("--directory")
        .arg(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run checkov ({error}): install it with `pip install checkov==3.3.30`")
        });
    let report: Json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "checkov printed no JSON report ({error}):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        report["summary"]["parsing_errors"], 0,
        "checkov could not parse a template: {}",
        report["summary"]
    );
    report
}

/// `(file, resource, check)` of each of the report's results of `kind`
/// (`failed_checks`, `skipped_checks`).
fn results(report: &Json, kind: &str) -> BTreeSet<(String, String, String)> {
    report["results"][kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind} in checkov's report"))
        .iter()
        .map(|result| {
            let file = result["file_path"].as_str().unwrap_or_default();
            let file = file.rsplit('/').next().unwrap_or_default();
            // `AWS::SQS::Queue.EmailQueue`: the logical id after the type.
            let resource = result["resource"].as_str().unwrap_or_default();
            let logical_id = resource.rsplit('.').next().unwrap_or_default();
            (
                file.replace(".yaml", ".json"),
                logical_id.to_owned(),
                result["check_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The `(template file, resource, check)` the stacks accept, read from the rendered metadata.
fn accepted(assembly: &Assembly) -> BTreeSet<(String, String, String)> {
    let mut accepted = BTreeSet::new();
    for stack in &assembly.stacks {
        for (logical_id, resource) in stack.template["Resources"].as_object().unwrap() {
            for skip in resource["Metadata"]["checkov"]["skip"]
                .as_array()
                .into_iter()
                .flatten()
            {
                accepted.insert((
                    format!("{}.template.json", stack.name),
                    logical_id.clone(),
                    skip["id"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    accepted
}

#[test]
fn checkov_finds_nothing_the_stacks_neither_fix_nor_accept_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected_skips = 0;
    for stage in STAGES {
        let assembly = assembly(stage);
        expected_skips += 2 * accepted(&assembly).len();
        for format in [Format::Json, Format::Yaml] {
            let out = dir.path().join(format!("{}-{format:?}", stage.name()));
            assembly.write(&out, format).unwrap();
        }
    }
    let report = checkov(dir.path());
    let failed = results(&report, "failed_checks");
    assert!(
        failed.is_empty(),
        "checkov findings neither fixed nor accepted (fix the resource, or accept the check with \
         the reason next to it):\n{failed:#?}"
    );
    let passed = report["summary"]["passed"].as_u64().unwrap();
    assert!(
        passed > 400,
        "checkov checked too little: {}",
        report["summary"]
    );
    let skipped = report["results"]["skipped_checks"].as_array().unwrap();
    assert_eq!(skipped.len(), expected_skips, "{}", report["summary"]);
    for skip in skipped {
        let reason = skip["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or("");
        assert!(reason.len() > 40, "a skip without its reason: {skip}");
    }
}

/// A resource's templates without any `Metadata`: checkov's findings then, against the ones the
/// stacks accept. An acceptance of a check the resource passes anyway is stale and hides nothing;
/// it must go.
#[test]
fn every_accepted_finding_is_one_checkov_really_makes() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for stage in STAGES {
        let assembly = assembly(stage);
        expected.extend(accepted(&assembly));
        for stack in &assembly.stacks {
            let mut template = stack.template.clone();
            for resource in template["Resources"].as_object_mut().unwrap().values_mut() {
                resource.as_object_mut().unwrap().remove("Metadata");
            }
            std::fs::write(
                dir.path().join(format!("{}.template.json", stack.name)),
                serde_json::to_vec_pretty(&template).unwrap(),
            )
            .unwrap();
        }
    }
    assert!(expected.len() > 50, "{expected:?}");
    let found = results(&checkov(dir.path()), "failed_checks");
    let stale: Vec<_> = expected.difference(&found).collect();
    let undecided: Vec<_> = found.difference(&expected).collect();
    assert!(
        stale.is_empty() && undecided.is_empty(),
        "accepted but not found (remove the acceptance): {stale:#?}\n\
         found but not accepted: {undecided:#?}"
    );
}

#[test]
fn every_kind_of_accepted_finding_is_listed_with_its_decision_in_architecture_md() {
    let architecture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md"))
            .unwrap();
    let kinds: BTreeSet<String> = STAGES
        .into_iter()
        .flat_map(|stage| accepted(&assembly(stage)))
        .map(|(_, _, check)| check)
        .collect();
    assert!(kinds.len() > 10, "{kinds:?}");
    let missing: Vec<_> = kinds
        .iter()
        .filter(|check| !architecture.contains(&format!("`{check}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not list these accepted checks: {missing:?}"
    );
}

// --- parliament -------------------------------------------------------------------------------

/// Stand-ins for what CloudFormation resolves at deploy time, so that parliament sees ARNs of the
/// shapes AWS will (it checks each action against the resource types its ARNs name).
const PARTITION: &str = "aws";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

/// Every template of an assembly, by stack name, to follow `Fn::ImportValue` across stacks.
struct Templates<'a> {
    by_stack: BTreeMap<&'a str, &'a Json>,
}

impl Templates<'_> {
    /// The value `expression` takes in `stack`, intrinsics resolved to stand-ins of the right
    /// shape. Panics on an intrinsic or resource type it does not know: add it here.
    fn resolve(&self, stack: &str, expression: &Json) -> Json {
        let intrinsic = expression
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
            .filter(|(key, _)| key.starts_with("Fn::") || *key == "Ref" || *key == "Condition");
        let Some((function, argument)) = intrinsic else {
            return match expression {
                Json::Array(items) => {
                    Json::Array(items.iter().map(|item| self.resolve(stack, item)).collect())
                }
                Json::Object(fields) => Json::Object(
                    fields
                        .iter()
                        .map(|(key, value)| (key.clone(), self.resolve(stack, value)))
                        .collect(),
                ),
                other => other.clone(),
            };
        };
        let text = |value: Json| value.as_str().map(str::to_owned).unwrap_or_default();
        match function.as_str() {
            "Ref" => json!(self.reference(stack, argument.as_str().unwrap())),
            "Fn::GetAtt" => json!(self.attribute(
                stack,
                argument[0].as_str().unwrap(),
                argument[1].as_str().unwrap()
            )),
            "Fn::ImportValue" => {
                let export = text(self.resolve(stack, argument));
                let (producer, _) = export.split_once(':').unwrap();
                let outputs = self.by_stack[producer]["Outputs"].as_object().unwrap();
                let output = outputs
                    .values()
                    .find(|output| output["Export"]["Name"] == export.as_str())
                    .unwrap_or_else(|| panic!("no stack exports {export}"));
                self.resolve(producer, &output["Value"])
            }
            "Fn::Sub" => {
                let (template, variables) = match argument {
                    Json::Array(parts) => (parts[0].as_str().unwrap(), parts[1].clone()),
                    other => (other.as_str().unwrap(), json!({})),
                };
                let mut resolved = String::new();
                let mut rest = template;
                while let Some(start) = rest.find("${") {
                    resolved.push_str(&rest[..start]);
                    let end = start + rest[start..].find('}').unwrap();
                    let name = &rest[start + 2..end];
                    resolved.push_str(&match variables.get(name) {
                        Some(value) => text(self.resolve(stack, value)),
                        None => match name.split_once('.') {
                            Some((id, attribute)) if !name.starts_with("AWS::") => {
                                self.attribute(stack, id, attribute)
                            }
                            _ => self.reference(stack, name),
                        },
                    });
                    rest = &rest[end + 1..];
                }
                resolved.push_str(rest);
                json!(resolved)
            }
            "Fn::Join" => {
                let parts = self.resolve(stack, &argument[1]);
                let parts: Vec<String> = parts
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned()
                    .map(text)
                    .collect();
                json!(parts.join(argument[0].as_str().unwrap()))
            }
            "Fn::Split" => {
                let whole = text(self.resolve(stack, &argument[1]));
                json!(
                    whole
                        .split(argument[0].as_str().unwrap())
                        .collect::<Vec<_>>()
                )
            }
            "Fn::Select" => {
                let index = argument[0].as_u64().unwrap() as usize;
                self.resolve(stack, &argument[1])[index].clone()
            }
            _ => panic!("the policy resolver does not know {function}: add it"),
        }
    }

    fn reference(&self, stack: &str, name: &str) -> String {
        match name {
            "AWS::Partition" => return PARTITION.to_owned(),
            "AWS::Region" => return REGION.to_owned(),
            "AWS::AccountId" => return ACCOUNT.to_owned(),
            "AWS::URLSuffix" => return "amazonaws.com".to_owned(),
            "AWS::StackName" => return stack.to_owned(),
            _ => {}
        }
        let template = self.by_stack[stack];
        if let Some(parameter) = template["Parameters"].get(name) {
            return match parameter["Default"].as_str() {
                Some(default) if !default.is_empty() => default.to_owned(),
                _ => format!("{}-value", name.to_lowercase()),
            };
        }
        let kind = template["Resources"][name]["Type"]
            .as_str()
            .unwrap_or_else(|| panic!("{stack} has no resource or parameter {name}"));
        match kind {
            // Types whose `Ref` is their ARN.
            "AWS::SNS::Topic"
            | "AWS::SecretsManager::Secret"
            | "AWS::StepFunctions::StateMachine"
            | "AWS::ECS::TaskDefinition"
            | "AWS::ElasticLoadBalancingV2::LoadBalancer"
            | "AWS::ElasticLoadBalancingV2::TargetGroup" => self.attribute(stack, name, "Arn"),
            _ => name.to_lowercase(),
        }
    }

    fn attribute(&self, stack: &str, id: &str, attribute: &str) -> String {
        let template = self.by_stack[stack];
        let kind = template["Resources"][id]["Type"]
            .as_str()
            .unwrap_or_else(|| panic!("{stack} has no resource {id}"));
        let name = id.to_lowercase();
        let (p, r, a) = (PARTITION, REGION, ACCOUNT);
        let arn = match kind {
            "AWS::DynamoDB::Table" => format!("arn:{p}:dynamodb:{r}:{a}:table/{name}"),
            "AWS::SQS::Queue" => format!("arn:{p}:sqs:{r}:{a}:{name}"),
            "AWS::SNS::Topic" => format!("arn:{p}:sns:{r}:{a}:{name}"),
            "AWS::Lambda::Function" => format!("arn:{p}:lambda:{r}:{a}:function:{name}"),
            "AWS::S3::Bucket" => format!("arn:{p}:s3:::{name}"),
            "AWS::Events::EventBus" => format!("arn:{p}:events:{r}:{a}:event-bus/{name}"),
            "AWS::Events::Rule" => format!("arn:{p}:events:{r}:{a}:rule/{name}"),
            "AWS::StepFunctions::StateMachine" => {
                format!("arn:{p}:states:{r}:{a}:stateMachine:{name}")
            }
            "AWS::Logs::LogGroup" => format!("arn:{p}:logs:{r}:{a}:log-group:{name}:*"),
            "AWS::Cognito::UserPool" => format!("arn:{p}:cognito-idp:{r}:{a}:userpool/{r}_{id}"),
            "AWS::SecretsManager::Secret" => {
                format!("arn:{p}:secretsmanager:{r}:{a}:secret:{name}-AbCdEf")
            }
            "AWS::ECR::Repository" => format!("arn:{p}:ecr:{r}:{a}:repository/{name}"),
            "AWS::IAM::Role" => format!("arn:{p}:iam::{a}:role/{name}"),
            "AWS::CloudFront::Distribution" => format!("arn:{p}:cloudfront::{a}:distribution/{id}"),
            "AWS::ECS::Cluster" => format!("arn:{p}:ecs:{r}:{a}:cluster/{name}"),
            "AWS::ECS::Service" => format!("arn:{p}:ecs:{r}:{a}:service/cluster/{name}"),
            "AWS::ECS::TaskDefinition" => format!("arn:{p}:ecs:{r}:{a}:task-definition/{name}:1"),
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                format!(
                    "arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/app/{name}/0123456789abcdef"
                )
            }
            "AWS::ElasticLoadBalancingV2::TargetGroup" => {
                format!("arn:{p}:elasticloadbalancing:{r}:{a}:targetgroup/{name}/0123456789abcdef")
            }
            other => panic!("the policy resolver does not know the ARN of {other}: add it"),
        };
        match (kind, attribute) {
            (_, "Arn") => arn,
            ("AWS::DynamoDB::Table", "StreamArn") => {
                format!("{arn}/stream/2026-12-05T00:00:00.000")
            }
            _ => format!("{name}-{}", attribute.to_lowercase()),
        }
    }
}

/// Every IAM policy the stacks grant (roles' inline policies, managed policies), resolved, by
/// `stage.stack.resource.policy`.
fn iam_policies() -> BTreeMap<String, Json> {
    let mut policies = BTreeMap::new();
    for stage in STAGES {
        let assembly = assembly(stage);
        let templates = Templates {
            by_stack: assembly
                .stacks
                .iter()
                .map(|stack| (stack.name.as_str(), &stack.template))
                .collect(),
        };
        for stack in &assembly.stacks {
            for (id, resource) in stack.template["Resources"].as_object().unwrap() {
                let properties = &resource["Properties"];
                let documents: Vec<(String, &Json)> = match resource["Type"].as_str().unwrap() {
                    "AWS::IAM::Role" => properties["Policies"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|policy| {
                            let name = policy["PolicyName"].as_str().unwrap().to_owned();
                            (name, &policy["PolicyDocument"])
                        })
                        .collect(),
                    "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                        vec![("policy".to_owned(), &properties["PolicyDocument"])]
                    }
                    _ => Vec::new(),
                };
                for (name, document) in documents {
                    policies.insert(
                        format!("{}.{id}.{name}", stack.name),
                        templates.resolve(&stack.name, document),
                    );
                }
            }
        }
    }
    policies
}

/// parliament over every `.json` policy in `dir`, findings as JSON lines.
fn parliament(dir: &Path) -> std::process::Output {
    Command::new("parliament")
        .args([
            "--include_policy_extension",
            "json",
            "--json",
            "--directory",
        ])
        .arg(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run parliament ({error}): install it with `pip install parliament==1.6.4`"
            )
        })
}

#[test]
fn parliament_finds_nothing_in_the_iam_policies_the_stacks_grant() {
    let policies = iam_policies();
    assert!(policies.len() > 20, "{:?}", policies.keys());
    let dir = tempfile::tempdir().unwrap();
    for (name, policy) in &policies {
        let text = policy.to_string();
        assert!(
            !text.contains("Fn::") && !text.contains("\"Ref\""),
            "{name} still holds an intrinsic: {text}"
        );
        std::fs::write(dir.path().join(format!("{name}.json")), text).unwrap();
    }
    let output = parliament(dir.path());
    let findings = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && findings.trim().is_empty() && errors.trim().is_empty(),
        "parliament's findings in the stacks' IAM policies (exit {:?}):\n{findings}{errors}",
        output.status.code()
    );
}

/// The linter is live: a policy with an action IAM does not have, or an action on a resource of
/// the wrong type, is a finding.
#[test]
fn parliament_finds_a_misspelt_action_and_a_mismatched_resource() {
    let dir = tempfile::tempdir().unwrap();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "sqs:SendMesage", "Resource": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:work") },
            { "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:work") },
        ],
    });
    std::fs::write(dir.path().join("bad.json"), policy.to_string()).unwrap();
    let output = parliament(dir.path());
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(findings.contains("UNKNOWN_ACTION"), "{findings}");
    assert!(findings.contains("RESOURCE_MISMATCH"), "{findings}");
}
