//! Emulator profiles: what the deployer does differently against an AWS emulator, stated
//! explicitly and reported for every stack, never applied silently.
//!
//! moto 5.2.1's CloudFormation (the emulator the tests run) differs from AWS in ways found by
//! deploying the platform's templates to it:
//! - Resource types it does not implement are accepted and then *not created*, while the stack
//!   still reports `CREATE_COMPLETE`; a `Fn::GetAtt` on one fails the whole request with an
//!   internal error. The profile removes them from the template (and turns references to them
//!   into `emulator-skipped:<LogicalId>[.<Attribute>]` strings) and reports each by logical id
//!   and type, so nobody mistakes a green emulator deploy for one that created them. Their
//!   templates are checked with cfn-lint instead.
//! - `Ref` to an `AWS::Events::EventBus` resolves to moto's internal object instead of the bus
//!   name, which breaks rules on the bus and exports of it. CloudFormation defines that `Ref` as
//!   the bus's name, so the profile substitutes the literal `Name` (and adds a `DependsOn`, which
//!   the `Ref` implied).
//! - `Fn::GetAtt [TargetGroup, TargetGroupArn]` is not implemented; `Ref` to a target group is
//!   its ARN by definition, so the profile uses that.
//! - `AWS::StepFunctions::StateMachine` reads only `DefinitionString`: a `Definition` object
//!   creates a machine with an empty definition. The profile serialises the object into
//!   `DefinitionString` as `Fn::Sub [text, DefinitionSubstitutions]`, which is what
//!   CloudFormation does with the pair.
//! - An `AWS::ECR::Repository` without `RepositoryName` gets a generated name with capitals,
//!   which moto itself then rejects; the profile names it `<stack>-<logicalid>` in lower case.
//! - Executing a change set does not compute outputs or exports, so stacks are created and
//!   updated with `CreateStack`/`UpdateStack` instead ([`ExecutionMode::Direct`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json};

/// How stack changes are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionMode {
    /// Create a change set, wait for it, execute it: what AWS is driven with.
    ChangeSet,
    /// `CreateStack` / `UpdateStack`, for emulators whose change sets are incomplete.
    Direct,
}

/// An emulator the deployer knows how to adapt to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmulatorProfile {
    /// moto_server 5.2.x.
    Moto,
}

/// The resource types of the platform that moto 5.2.1's CloudFormation implements. Anything
/// else is removed and reported, so a type added to the stacks later is reported rather than
/// silently not created. (A test compares this list with the installed moto's model map.)
pub const MOTO_IMPLEMENTED: &[&str] = &[
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::Route",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
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
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::StepFunctions::StateMachine",
];

/// Properties moto's CloudFormation accepts and drops, by resource type: reported for each
/// resource that sets them, since the deployed resource will lack them. (From moto's
/// `create_from_cloudformation_json` of each type.)
pub const MOTO_IGNORED_PROPERTIES: &[(&str, &[&str])] = &[(
    "AWS::ECS::TaskDefinition",
    &[
        "Cpu",
        "ExecutionRoleArn",
        "NetworkMode",
        "RequiresCompatibilities",
        "RuntimePlatform",
        "TaskRoleArn",
    ],
)];

/// Resource types moto's CloudFormation leaves in place when their stack is deleted (it has no
/// deletion for them), found by destroying the platform in moto. Against AWS they are deleted;
/// in the emulator they linger until the server stops. Route tables are why deleting the
/// network stack's VPC fails in moto with `DependencyViolation`.
pub const MOTO_NOT_DELETED: &[&str] = &[
    "AWS::EC2::InternetGateway",
    "AWS::EC2::Route",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
];

/// What the profile changed in one stack's template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adaptation {
    /// Resources left out because the emulator does not implement their type: (logical id, type).
    pub skipped: Vec<(String, String)>,
    /// Equivalent rewrites of constructs the emulator mishandles, one line each.
    pub rewrites: Vec<String>,
    /// Properties sent but dropped by the emulator, as `LogicalId: Property, ...`.
    pub ignored: Vec<String>,
}

impl Adaptation {
    pub fn is_empty(&self) -> bool {
        self.skipped.is_empty() && self.rewrites.is_empty() && self.ignored.is_empty()
    }
}

impl EmulatorProfile {
    pub fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
        }
    }

    pub fn execution_mode(self) -> ExecutionMode {
        match self {
            Self::Moto => ExecutionMode::Direct,
        }
    }

    pub fn implements(self, resource_type: &str) -> bool {
        match self {
            Self::Moto => MOTO_IMPLEMENTED.contains(&resource_type),
        }
    }

    /// The template to send to the emulator instead of `template`, and what changed.
    pub fn adapt(self, stack: &str, template: &Json) -> (Json, Adaptation) {
        let mut adaptation = Adaptation::default();
        let mut template = template.clone();
        let Some(resources) = template.get("Resources").and_then(Json::as_object).cloned() else {
            return (template, adaptation);
        };
        let skipped: BTreeSet<String> = resources
            .iter()
            .filter(|(_, resource)| !self.implements(resource_type(resource)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &skipped {
            adaptation
                .skipped
                .push((id.clone(), resource_type(&resources[id]).to_owned()));
        }
        let buses: BTreeMap<String, Json> = resources
            .iter()
            .filter(|(_, resource)| resource_type(resource) == "AWS::Events::EventBus")
            .filter_map(|(id, resource)| {
                Some((id.clone(), resource.pointer("/Properties/Name")?.clone()))
            })
            .filter(|(_, name)| name.is_string())
            .collect();
        let rewriter = Rewriter {
            resources: &resources,
            skipped: &skipped,
            buses: &buses,
        };

        let mut adapted = Map::new();
        for (id, resource) in &resources {
            if skipped.contains(id) {
                continue;
            }
            let mut used_buses = BTreeSet::new();
            let mut resource =
                rewriter.rewrite(resource, &mut used_buses, &mut adaptation.rewrites, id);
            let object = resource.as_object_mut().expect("a resource is an object");
            let mut depends_on: Vec<String> = match object.remove("DependsOn") {
                Some(Json::String(one)) => vec![one],
                Some(Json::Array(many)) => many
                    .into_iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            depends_on.retain(|dependency| !skipped.contains(dependency));
            for bus in used_buses {
                if !depends_on.contains(&bus) {
                    depends_on.push(bus);
                }
            }
            if !depends_on.is_empty() {
                object.insert(
                    "DependsOn".to_owned(),
                    Json::Array(depends_on.into_iter().map(Json::String).collect()),
                );
            }
            if resource_type(&resource) == "AWS::ECR::Repository"
                && resource.pointer("/Properties/RepositoryName").is_none()
            {
                let name = format!("{stack}-{id}").to_lowercase();
                adaptation.rewrites.push(format!(
                    "{id}: RepositoryName set to {name} (moto generates an invalid one)"
                ));
                let object = resource.as_object_mut().expect("a resource is an object");
                let properties = object
                    .entry("Properties")
                    .or_insert_with(|| Json::Object(Map::new()));
                if let Some(properties) = properties.as_object_mut() {
                    properties.insert("RepositoryName".to_owned(), Json::String(name));
                }
            }
            for (ignoring_type, properties) in MOTO_IGNORED_PROPERTIES {
                if resource_type(&resource) != *ignoring_type {
                    continue;
                }
                let set: Vec<&str> = properties
                    .iter()
                    .copied()
                    .filter(|property| {
                        resource
                            .pointer(&format!("/Properties/{property}"))
                            .is_some()
                    })
                    .collect();
                if !set.is_empty() {
                    adaptation.ignored.push(format!("{id}: {}", set.join(", ")));
                }
            }
            if resource_type(&resource) == "AWS::StepFunctions::StateMachine" {
                definition_as_string(id, &mut resource, &mut adaptation.rewrites);
            }
            adapted.insert(id.clone(), resource);
        }
        let outputs = template.get("Outputs").cloned();
        if let Some(object) = template.as_object_mut() {
            object.insert("Resources".to_owned(), Json::Object(adapted));
            if let Some(outputs) = outputs {
                let mut unused = BTreeSet::new();
                let outputs =
                    rewriter.rewrite(&outputs, &mut unused, &mut adaptation.rewrites, "Outputs");
                object.insert("Outputs".to_owned(), outputs);
            }
        }
        adaptation.rewrites.sort();
        adaptation.rewrites.dedup();
        (template, adaptation)
    }
}

/// `Definition` + `DefinitionSubstitutions` -> `DefinitionString: Fn::Sub [text, substitutions]`.
fn definition_as_string(id: &str, resource: &mut Json, notes: &mut Vec<String>) {
    let Some(properties) = resource.get_mut("Properties").and_then(Json::as_object_mut) else {
        return;
    };
    let Some(definition) = properties.remove("Definition") else {
        return;
    };
    let text = definition.to_string();
    let value = match properties.remove("DefinitionSubstitutions") {
        Some(substitutions) => serde_json::json!({ "Fn::Sub": [text, substitutions] }),
        None => Json::String(text),
    };
    properties.insert("DefinitionString".to_owned(), value);
    notes.push(format!(
        "{id}: Definition and DefinitionSubstitutions sent as DefinitionString with Fn::Sub (moto reads only DefinitionString)"
    ));
}

fn resource_type(resource: &Json) -> &str {
    resource["Type"].as_str().unwrap_or_default()
}

/// A placeholder that says what it stands for, so a value that reaches a deployed resource
/// explains itself.
fn placeholder(id: &str, attribute: Option<&str>) -> Json {
    Json::String(match attribute {
        Some(attribute) => format!("emulator-skipped:{id}.{attribute}"),
        None => format!("emulator-skipped:{id}"),
    })
}

struct Rewriter<'a> {
    resources: &'a Map<String, Json>,
    skipped: &'a BTreeSet<String>,
    buses: &'a BTreeMap<String, Json>,
}

impl Rewriter<'_> {
    fn rewrite(
        &self,
        value: &Json,
        buses: &mut BTreeSet<String>,
        notes: &mut Vec<String>,
        at: &str,
    ) -> Json {
        match value {
            Json::Object(object) => {
                if object.len() == 1
                    && let Some(replacement) = self.intrinsic(object, buses, notes, at)
                {
                    return replacement;
                }
                Json::Object(
                    object
                        .iter()
                        .map(|(key, value)| (key.clone(), self.rewrite(value, buses, notes, at)))
                        .collect(),
                )
            }
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.rewrite(item, buses, notes, at))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn intrinsic(
        &self,
        object: &Map<String, Json>,
        buses: &mut BTreeSet<String>,
        notes: &mut Vec<String>,
        at: &str,
    ) -> Option<Json> {
        if let Some(Json::String(target)) = object.get("Ref") {
            if self.skipped.contains(target) {
                return Some(placeholder(target, None));
            }
            if let Some(name) = self.buses.get(target) {
                buses.insert(target.clone());
                notes.push(format!(
                    "{at}: Ref {target} replaced by the bus name (moto resolves it to an object)"
                ));
                return Some(name.clone());
            }
            return None;
        }
        if let Some(Json::Array(parts)) = object.get("Fn::GetAtt") {
            let (Some(target), Some(attribute)) = (
                parts.first().and_then(Json::as_str),
                parts.get(1).and_then(Json::as_str),
            ) else {
                return None;
            };
            if self.skipped.contains(target) {
                return Some(placeholder(target, Some(attribute)));
            }
            let target_type = self
                .resources
                .get(target)
                .map(resource_type)
                .unwrap_or_default();
            if target_type == "AWS::ElasticLoadBalancingV2::TargetGroup"
                && attribute == "TargetGroupArn"
            {
                notes.push(format!(
                    "{at}: GetAtt {target}.TargetGroupArn replaced by Ref (same value)"
                ));
                return Some(serde_json::json!({ "Ref": target }));
            }
            return None;
        }
        if let Some(sub) = object.get("Fn::Sub") {
            let (text, variables) = match sub {
                Json::String(text) => (text.clone(), None),
                Json::Array(parts) => (
                    parts.first()?.as_str()?.to_owned(),
                    parts
                        .get(1)
                        .map(|variables| self.rewrite(variables, buses, notes, at)),
                ),
                _ => return None,
            };
            let text = self.substitute_skipped(&text);
            return Some(match variables {
                None => serde_json::json!({ "Fn::Sub": text }),
                Some(variables) => serde_json::json!({ "Fn::Sub": [text, variables] }),
            });
        }
        None
    }

    /// Replaces `${Skipped}` and `${Skipped.Attribute}` in a `Fn::Sub` string by the placeholder
    /// text.
    fn substitute_skipped(&self, text: &str) -> String {
        let mut result = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            result.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                result.push_str(&rest[start..]);
                return result;
            };
            let variable = &after[..end];
            let (id, attribute) = match variable.split_once('.') {
                Some((id, attribute)) => (id, Some(attribute)),
                None => (variable, None),
            };
            if self.skipped.contains(id) {
                if let Json::String(text) = placeholder(id, attribute) {
                    result.push_str(&text);
                }
            } else {
                result.push_str(&rest[start..start + 2 + end + 1]);
            }
            rest = &after[end + 1..];
        }
        result.push_str(rest);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Json {
        json!({
            "Resources": {
                "Bus": { "Type": "AWS::Events::EventBus", "Properties": { "Name": "orders" } },
                "Rule": { "Type": "AWS::Events::Rule", "Properties": { "EventBusName": { "Ref": "Bus" } } },
                "Pool": { "Type": "AWS::Cognito::UserPool", "Properties": {} },
                "Alarm": { "Type": "AWS::CloudWatch::Alarm", "DependsOn": "Pool", "Properties": {} },
                "Queue": { "Type": "AWS::SQS::Queue", "DependsOn": ["Pool"], "Properties": {
                    "Tags": [{ "Key": "issuer", "Value": { "Fn::Sub": "https://${Pool.ProviderURL}/${AWS::Region}" } }]
                } },
                "Repo": { "Type": "AWS::ECR::Repository", "Properties": {} },
            },
            "Outputs": {
                "PoolId": { "Value": { "Ref": "Pool" } },
                "Issuer": { "Value": { "Fn::GetAtt": ["Pool", "ProviderURL"] } },
                "BusName": { "Value": { "Ref": "Bus" }, "Export": { "Name": "s:Bus" } },
            }
        })
    }

    #[test]
    fn unimplemented_types_are_removed_and_reported_by_logical_id() {
        let (adapted, adaptation) = EmulatorProfile::Moto.adapt("s", &template());
        assert_eq!(
            adaptation.skipped,
            vec![
                ("Alarm".to_owned(), "AWS::CloudWatch::Alarm".to_owned()),
                ("Pool".to_owned(), "AWS::Cognito::UserPool".to_owned()),
            ]
        );
        let resources = adapted["Resources"].as_object().unwrap();
        assert!(!resources.contains_key("Pool") && !resources.contains_key("Alarm"));
        assert!(adapted["Resources"]["Queue"].get("DependsOn").is_none());
    }

    #[test]
    fn references_to_removed_resources_become_self_describing_placeholders() {
        let (adapted, _) = EmulatorProfile::Moto.adapt("s", &template());
        assert_eq!(
            adapted["Outputs"]["PoolId"]["Value"],
            "emulator-skipped:Pool"
        );
        assert_eq!(
            adapted["Outputs"]["Issuer"]["Value"],
            "emulator-skipped:Pool.ProviderURL"
        );
        assert_eq!(
            adapted["Resources"]["Queue"]["Properties"]["Tags"][0]["Value"]["Fn::Sub"],
            "https://emulator-skipped:Pool.ProviderURL/${AWS::Region}"
        );
    }

    #[test]
    fn a_ref_to_an_event_bus_becomes_its_name_and_keeps_the_ordering_it_implied() {
        let (adapted, adaptation) = EmulatorProfile::Moto.adapt("s", &template());
        assert_eq!(
            adapted["Resources"]["Rule"]["Properties"]["EventBusName"],
            "orders"
        );
        assert_eq!(adapted["Resources"]["Rule"]["DependsOn"], json!(["Bus"]));
        assert_eq!(adapted["Outputs"]["BusName"]["Value"], "orders");
        assert!(
            adaptation
                .rewrites
                .iter()
                .any(|line| line.starts_with("Rule: Ref Bus"))
        );
    }

    #[test]
    fn an_unnamed_repository_gets_a_valid_lower_case_name() {
        let (adapted, _) = EmulatorProfile::Moto.adapt("App-Bootstrap", &template());
        assert_eq!(
            adapted["Resources"]["Repo"]["Properties"]["RepositoryName"],
            "app-bootstrap-repo"
        );
    }

    #[test]
    fn a_state_machine_definition_object_becomes_a_substituted_string() {
        let template = json!({ "Resources": { "Saga": { "Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "Definition": { "StartAt": "A", "States": { "A": { "Type": "Task", "Resource": "${Fn}", "End": true } } },
            "DefinitionSubstitutions": { "Fn": { "Fn::ImportValue": "f:Arn" } },
        } } } });
        let (adapted, _) = EmulatorProfile::Moto.adapt("s", &template);
        let properties = &adapted["Resources"]["Saga"]["Properties"];
        assert!(
            properties.get("Definition").is_none()
                && properties.get("DefinitionSubstitutions").is_none()
        );
        let [text, substitutions] = properties["DefinitionString"]["Fn::Sub"]
            .as_array()
            .unwrap()
            .as_slice()
        else {
            panic!("Fn::Sub [text, substitutions]");
        };
        let definition: Json = serde_json::from_str(text.as_str().unwrap()).unwrap();
        assert_eq!(
            definition,
            template["Resources"]["Saga"]["Properties"]["Definition"]
        );
        assert_eq!(
            substitutions,
            &json!({ "Fn": { "Fn::ImportValue": "f:Arn" } })
        );
    }

    #[test]
    fn a_template_of_implemented_types_passes_unchanged() {
        let template =
            json!({ "Resources": { "Q": { "Type": "AWS::SQS::Queue", "Properties": {} } } });
        let (adapted, adaptation) = EmulatorProfile::Moto.adapt("s", &template);
        assert_eq!(adapted, template);
        assert!(adaptation.is_empty());
    }
}
