//! One CloudFormation stack: its parameters, conditions, resources, explicit outputs and the
//! assets the deployer must upload before deploying it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::handle::{Condition, Handle, Param};
use crate::resource::Resource;
use crate::value::{CONDITION_MARKER, Expr, Json, Target, Value};

/// A stack under construction. Its name is the CloudFormation stack name.
pub struct Stack {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parameters: Vec<(String, Parameter)>,
    pub(crate) conditions: Vec<(String, ConditionExpr)>,
    pub(crate) resources: Vec<Entry>,
    pub(crate) outputs: Vec<(String, Output)>,
    pub(crate) assets: Vec<Asset>,
}

/// A resource as added: its properties are serialised at synthesis, when errors can be reported.
pub(crate) struct Entry {
    pub logical_id: String,
    pub type_name: &'static str,
    pub properties: Box<dyn ErasedProperties>,
    pub options: ResourceOptions,
    /// What the type's schema allows, checked at synthesis.
    pub constraints: &'static [crate::validate::Constraint],
    /// The line that added the resource, named when a value breaks a constraint.
    pub added_at: &'static std::panic::Location<'static>,
}

pub(crate) trait ErasedProperties {
    fn to_json(&self) -> Result<Json, serde_json::Error>;
}

impl<R: Resource> ErasedProperties for R {
    fn to_json(&self) -> Result<Json, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// The resource attributes beside `Properties`.
#[derive(Debug, Clone, Default)]
pub struct ResourceOptions {
    pub depends_on: Vec<String>,
    pub deletion_policy: Option<Policy>,
    pub update_replace_policy: Option<Policy>,
    pub condition: Option<Condition>,
    /// Security-scanner findings this resource deliberately does not fix, each with its reason.
    pub accepted: Vec<Accepted>,
}

/// A security-scanner check a resource fails on purpose, and why. Rendered as the resource's
/// `Metadata.checkov.skip` entry, the suppression checkov reads, so the reason travels with the
/// template and a scan reports the check as skipped with this comment rather than as a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The check's id, e.g. `CKV_AWS_117`.
    pub check: &'static str,
    /// Why this resource is right as it is: what real AWS does, what it would cost, what guards
    /// the risk instead.
    pub reason: &'static str,
}

impl Accepted {
    /// Whether `check` has the shape of a checkov id (`CKV_AWS_117`, `CKV2_AWS_5`): a typo would
    /// otherwise suppress nothing, silently.
    pub(crate) fn is_well_formed(&self) -> bool {
        let Some((prefix, rest)) = self.check.split_once('_') else {
            return false;
        };
        let Some((provider, number)) = rest.rsplit_once('_') else {
            return false;
        };
        matches!(prefix, "CKV" | "CKV2")
            && !provider.is_empty()
            && provider.chars().all(|c| c.is_ascii_uppercase())
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && !self.reason.trim().is_empty()
    }
}

impl ResourceOptions {
    /// `DeletionPolicy` and `UpdateReplacePolicy` both `Retain`: for data that must outlive the
    /// stack.
    pub fn retain() -> Self {
        Self {
            deletion_policy: Some(Policy::Retain),
            update_replace_policy: Some(Policy::Retain),
            ..Self::default()
        }
    }

    /// `DeletionPolicy` and `UpdateReplacePolicy` both `Delete`, stated rather than implied: for
    /// state that may go with the stack (logs, queued messages, generated secrets).
    pub fn delete() -> Self {
        Self {
            deletion_policy: Some(Policy::Delete),
            update_replace_policy: Some(Policy::Delete),
            ..Self::default()
        }
    }

    /// Adds a `DependsOn` on a resource of the same stack.
    pub fn depends_on<R>(mut self, resource: &Handle<R>) -> Self {
        self.depends_on.push(resource.logical_id().to_owned());
        self
    }

    pub fn when(mut self, condition: &Condition) -> Self {
        self.condition = Some(condition.clone());
        self
    }

    /// Records scanner findings this resource accepts, with their reasons.
    pub fn accept(mut self, accepted: &[Accepted]) -> Self {
        self.accepted.extend_from_slice(accepted);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Policy {
    Retain,
    Delete,
    Snapshot,
}

/// A template parameter declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Default", skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    #[serde(rename = "AllowedPattern", skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(rename = "MinLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(rename = "NoEcho", skip_serializing_if = "Option::is_none")]
    pub no_echo: Option<bool>,
}

impl Parameter {
    pub fn string(description: &str) -> Self {
        Self {
            kind: "String",
            description: description.to_owned(),
            default: None,
            allowed_pattern: None,
            min_length: None,
            no_echo: None,
        }
    }

    pub fn with_default(mut self, default: impl Into<Json>) -> Self {
        self.default = Some(default.into());
        self
    }

    pub fn with_pattern(mut self, pattern: &str) -> Self {
        self.allowed_pattern = Some(pattern.to_owned());
        self
    }

    pub fn non_empty(mut self) -> Self {
        self.min_length = Some(1);
        self
    }
}

/// A condition's definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionExpr {
    Equals(Expr, Expr),
    Not(Box<ConditionExpr>),
    And(Vec<ConditionExpr>),
    Or(Vec<ConditionExpr>),
    Condition(Target),
}

impl ConditionExpr {
    /// Another condition of the same stack.
    pub fn holds(condition: &Condition) -> Self {
        Self::Condition(condition.target.clone())
    }

    pub fn equals<T: Serialize>(left: Value<T>, right: Value<T>) -> Self {
        Self::Equals(left.to_expr(), right.to_expr())
    }

    pub(crate) fn to_json(&self) -> Json {
        match self {
            Self::Equals(left, right) => json!({ "Fn::Equals": [left.to_json(), right.to_json()] }),
            Self::Not(inner) => json!({ "Fn::Not": [inner.to_json()] }),
            Self::And(all) => {
                json!({ "Fn::And": all.iter().map(Self::to_json).collect::<Vec<_>>() })
            }
            Self::Or(any) => json!({ "Fn::Or": any.iter().map(Self::to_json).collect::<Vec<_>>() }),
            Self::Condition(target) => {
                json!({ CONDITION_MARKER: [target.stack, target.logical_id] })
            }
        }
    }
}

impl std::ops::Not for ConditionExpr {
    type Output = Self;

    /// `Fn::Not`.
    fn not(self) -> Self {
        Self::Not(Box::new(self))
    }
}

/// An explicit output, for values the deployer or operators read (not for cross-stack use:
/// those outputs are created automatically).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub description: String,
    pub value: Expr,
    /// Present only when this condition holds (the value may name conditional resources).
    pub condition: Option<Condition>,
}

/// Something the deployer builds and uploads (or looks up in the region), and the parameter its
/// location or id fills.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Asset {
    /// The template parameter that receives the asset's content-addressed location.
    pub parameter: String,
    #[serde(flatten)]
    pub kind: AssetKind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssetKind {
    /// A zip of the `bootstrap` binary of a Lambda function, stored in the asset bucket under a
    /// content-addressed key; `parameter` receives the key.
    LambdaZip {
        /// The function's name, e.g. `validate-order` (also its binary's name).
        function: String,
    },
    /// The API's container image, pushed to the bootstrap repository; `parameter` receives the
    /// image tag (its content digest).
    ContainerImage { name: String },
    /// Not built but looked up: an AWS-managed prefix list of the region deployed to, by name
    /// (e.g. CloudFront's origin-facing servers); `parameter` receives its id (`pl-...`), which
    /// differs from region to region and which a template cannot look up itself.
    ManagedPrefixList { name: String },
}

impl Stack {
    pub fn new(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters: Vec::new(),
            conditions: Vec::new(),
            resources: Vec::new(),
            outputs: Vec::new(),
            assets: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a resource and returns its typed handle.
    #[track_caller]
    pub fn add<R: Resource>(&mut self, logical_id: &str, properties: R) -> Handle<R> {
        self.add_with(logical_id, properties, ResourceOptions::default())
    }

    /// Adds a resource with `DependsOn`, deletion policies or a condition.
    #[track_caller]
    pub fn add_with<R: Resource>(
        &mut self,
        logical_id: &str,
        properties: R,
        options: ResourceOptions,
    ) -> Handle<R> {
        self.resources.push(Entry {
            logical_id: logical_id.to_owned(),
            type_name: R::TYPE,
            properties: Box::new(properties),
            options,
            constraints: R::CONSTRAINTS,
            added_at: std::panic::Location::caller(),
        });
        Handle::new(&self.name, logical_id)
    }

    /// Declares a `String` parameter.
    pub fn parameter(&mut self, name: &str, parameter: Parameter) -> Param<String> {
        self.parameters.push((name.to_owned(), parameter));
        Param::new(&self.name, name)
    }

    /// Declares a parameter that the deployer fills with an asset's location.
    pub fn asset_parameter(
        &mut self,
        name: &str,
        description: &str,
        kind: AssetKind,
    ) -> Param<String> {
        self.assets.push(Asset {
            parameter: name.to_owned(),
            kind,
        });
        self.parameter(name, Parameter::string(description).non_empty())
    }

    pub fn condition(&mut self, name: &str, definition: ConditionExpr) -> Condition {
        self.conditions.push((name.to_owned(), definition));
        Condition {
            target: Target {
                stack: self.name.clone(),
                logical_id: name.to_owned(),
            },
        }
    }

    pub fn output(&mut self, name: &str, description: &str, value: Value<String>) {
        self.outputs.push((
            name.to_owned(),
            Output {
                description: description.to_owned(),
                value: value.to_expr(),
                condition: None,
            },
        ));
    }

    /// An output that exists only when `condition` holds.
    pub fn output_when(
        &mut self,
        name: &str,
        description: &str,
        value: Value<String>,
        condition: &Condition,
    ) {
        self.outputs.push((
            name.to_owned(),
            Output {
                description: description.to_owned(),
                value: value.to_expr(),
                condition: Some(condition.clone()),
            },
        ));
    }

    /// Number of resources added so far.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }
}
