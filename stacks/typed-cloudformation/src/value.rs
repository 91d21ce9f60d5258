//! Property values: a literal of the property's type or an intrinsic function that evaluates to
//! one at deploy time.
//!
//! References to resources and parameters are kept qualified by their stack until synthesis
//! ([`crate::synth`]) knows which stack is being rendered: only then can a reference become a
//! plain `Ref`/`Fn::GetAtt` (same stack) or an `Fn::ImportValue` of an automatic export (another
//! stack).

use std::marker::PhantomData;

use serde::{Serialize, Serializer};
use serde_json::json;

/// An untyped JSON property value (policy documents, event patterns, ...). Intrinsics can be
/// embedded with [`Value::to_json`].
pub type Json = serde_json::Value;

/// Marker keys of stack-qualified references in the intermediate JSON. They are not valid
/// CloudFormation, so a marker that synthesis failed to resolve could never deploy silently.
/// (`Fn::Sub` variables this crate introduces are named `EfVar<n>`; they do reach the templates,
/// so the name stays: renaming them would change every deployed stack that has one.)
pub(crate) const REF_MARKER: &str = "TypedCloudFormation::Ref";
pub(crate) const GET_ATT_MARKER: &str = "TypedCloudFormation::GetAtt";
pub(crate) const IF_MARKER: &str = "TypedCloudFormation::If";
pub(crate) const CONDITION_MARKER: &str = "TypedCloudFormation::Condition";

/// A resource or parameter of a stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// The CloudFormation stack name, e.g. `shop-prod-data`.
    pub stack: String,
    pub logical_id: String,
}

/// The value of a property of type `T`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<T> {
    Literal(T),
    Expr(Expr, PhantomData<fn() -> T>),
}

impl<T> Value<T> {
    pub(crate) fn expr(expr: Expr) -> Self {
        Self::Expr(expr, PhantomData)
    }

    /// The expression behind the value (a literal becomes [`Expr::Literal`]).
    pub fn to_expr(&self) -> Expr
    where
        T: Serialize,
    {
        match self {
            Self::Literal(value) => Expr::Literal(to_json_lossless(value)),
            Self::Expr(expr, _) => expr.clone(),
        }
    }

    /// The value as JSON, for untyped properties such as policy documents.
    pub fn to_json(&self) -> Json
    where
        T: Serialize,
    {
        self.to_expr().to_json()
    }
}

impl<T> From<T> for Value<T> {
    fn from(value: T) -> Self {
        Self::Literal(value)
    }
}

impl From<&str> for Value<String> {
    fn from(value: &str) -> Self {
        Self::Literal(value.to_owned())
    }
}

impl From<&String> for Value<String> {
    fn from(value: &String) -> Self {
        Self::Literal(value.clone())
    }
}

impl From<i32> for Value<i64> {
    fn from(value: i32) -> Self {
        Self::Literal(i64::from(value))
    }
}

impl From<u32> for Value<i64> {
    fn from(value: u32) -> Self {
        Self::Literal(i64::from(value))
    }
}

impl From<&Value<String>> for Value<String> {
    fn from(value: &Value<String>) -> Self {
        value.clone()
    }
}

impl<T: Serialize> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Literal(value) => value.serialize(serializer),
            Self::Expr(expr, _) => expr.to_json().serialize(serializer),
        }
    }
}

/// Serialising the crate's own literal types (strings, numbers, booleans, vectors and maps with
/// string keys) into JSON cannot fail; `Null` is never reached.
fn to_json_lossless<T: Serialize>(value: &T) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// An intrinsic function or literal, before it is rendered for a particular stack.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Json),
    /// `Ref` of a resource or parameter.
    Ref(Target),
    /// `Fn::GetAtt` of a resource attribute.
    GetAtt(Target, String),
    Pseudo(Pseudo),
    Sub(Vec<SubPart>),
    Join(String, Vec<Expr>),
    Select(u32, Box<Expr>),
    Split(String, Box<Expr>),
    /// `Fn::GetAZs` of the current region.
    AvailabilityZones,
    /// `Fn::ImportValue` of an export that no stack of this app produces.
    ImportValue(Box<Expr>),
    If(Target, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The intermediate JSON form, with stack-qualified references as markers.
    pub fn to_json(&self) -> Json {
        match self {
            Self::Literal(value) => value.clone(),
            Self::Ref(target) => json!({ REF_MARKER: [target.stack, target.logical_id] }),
            Self::GetAtt(target, attribute) => {
                json!({ GET_ATT_MARKER: [target.stack, target.logical_id, attribute] })
            }
            Self::Pseudo(pseudo) => json!({ "Ref": pseudo.name() }),
            Self::Sub(parts) => sub_json(parts),
            Self::Join(delimiter, items) => json!({
                "Fn::Join": [delimiter, items.iter().map(Self::to_json).collect::<Vec<_>>()]
            }),
            Self::Select(index, list) => {
                json!({ "Fn::Select": [index.to_string(), list.to_json()] })
            }
            Self::Split(delimiter, source) => json!({ "Fn::Split": [delimiter, source.to_json()] }),
            Self::AvailabilityZones => json!({ "Fn::GetAZs": "" }),
            Self::ImportValue(name) => json!({ "Fn::ImportValue": name.to_json() }),
            Self::If(condition, then, otherwise) => json!({
                IF_MARKER: [condition.stack, condition.logical_id, then.to_json(), otherwise.to_json()]
            }),
        }
    }
}

/// `Fn::Sub` with every non-literal part as a named variable; synthesis inlines the variables
/// that `Fn::Sub` can express directly (`${Resource}`, `${Resource.Attribute}`, `${AWS::Region}`).
fn sub_json(parts: &[SubPart]) -> Json {
    let mut template = String::new();
    let mut variables = serde_json::Map::new();
    for part in parts {
        match part {
            SubPart::Text(text) => template.push_str(&text.replace("${", "${!")),
            SubPart::Expr(expr) => {
                let name = format!("EfVar{}", variables.len());
                template.push_str(&format!("${{{name}}}"));
                variables.insert(name, expr.to_json());
            }
        }
    }
    json!({ "Fn::Sub": [template, variables] })
}

/// A piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq)]
pub enum SubPart {
    Text(String),
    Expr(Expr),
}

impl From<&str> for SubPart {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for SubPart {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<Value<String>> for SubPart {
    fn from(value: Value<String>) -> Self {
        Self::from(&value)
    }
}

impl From<&Value<String>> for SubPart {
    fn from(value: &Value<String>) -> Self {
        match value {
            Value::Literal(text) => Self::Text(text.clone()),
            Value::Expr(expr, _) => Self::Expr(expr.clone()),
        }
    }
}

impl From<Value<i64>> for SubPart {
    fn from(value: Value<i64>) -> Self {
        match value {
            Value::Literal(number) => Self::Text(number.to_string()),
            Value::Expr(expr, _) => Self::Expr(expr),
        }
    }
}

/// The AWS pseudo parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pseudo {
    AccountId,
    Region,
    Partition,
    StackName,
    StackId,
    UrlSuffix,
    NoValue,
}

impl Pseudo {
    pub fn name(self) -> &'static str {
        match self {
            Self::AccountId => "AWS::AccountId",
            Self::Region => "AWS::Region",
            Self::Partition => "AWS::Partition",
            Self::StackName => "AWS::StackName",
            Self::StackId => "AWS::StackId",
            Self::UrlSuffix => "AWS::URLSuffix",
            Self::NoValue => "AWS::NoValue",
        }
    }

    /// The pseudo parameter as a string value.
    pub fn value(self) -> Value<String> {
        Value::expr(Expr::Pseudo(self))
    }
}

/// `Fn::Sub` from literal text and values, e.g.
/// `sub(["arn:", Pseudo::Partition.value().into(), ":s3:::", bucket.reference().into()])`.
/// The [`crate::sub!`] macro spells the same thing without the conversions.
pub fn sub(parts: impl IntoIterator<Item = SubPart>) -> Value<String> {
    // A nested `Fn::Sub` is spliced in: CloudFormation does not accept one inside another's
    // variables.
    let flattened = parts.into_iter().flat_map(|part| match part {
        SubPart::Expr(Expr::Sub(inner)) => inner,
        other => vec![other],
    });
    let mut merged: Vec<SubPart> = Vec::new();
    for part in flattened {
        match (merged.last_mut(), part) {
            (Some(SubPart::Text(previous)), SubPart::Text(text)) => previous.push_str(&text),
            (_, part) => merged.push(part),
        }
    }
    match merged.as_slice() {
        [] => Value::Literal(String::new()),
        [SubPart::Text(text)] => Value::Literal(text.clone()),
        _ => Value::expr(Expr::Sub(merged)),
    }
}

/// `Fn::Sub` from a list of parts, each a `&str`, `String` or `Value<String>`.
#[macro_export]
macro_rules! sub {
    ($($part:expr),* $(,)?) => {
        $crate::value::sub([$($crate::value::SubPart::from($part)),*])
    };
}

/// `Fn::Join`.
pub fn join(delimiter: &str, items: impl IntoIterator<Item = Value<String>>) -> Value<String> {
    Value::expr(Expr::Join(
        delimiter.to_owned(),
        items.into_iter().map(|item| item.to_expr()).collect(),
    ))
}

/// `Fn::Select` of one item of a list.
pub fn select(index: u32, list: Value<Vec<String>>) -> Value<String> {
    Value::expr(Expr::Select(index, Box::new(list.to_expr())))
}

/// `Fn::Split`.
pub fn split(delimiter: &str, source: Value<String>) -> Value<Vec<String>> {
    Value::expr(Expr::Split(
        delimiter.to_owned(),
        Box::new(source.to_expr()),
    ))
}

/// `Fn::GetAZs` of the region the stack deploys to.
pub fn availability_zones() -> Value<Vec<String>> {
    Value::expr(Expr::AvailabilityZones)
}

/// `Fn::ImportValue` of an export owned outside this app. Exports of this app's own stacks are
/// never imported by hand: using the value creates the export and the import.
pub fn import_value(export_name: impl Into<Value<String>>) -> Value<String> {
    Value::expr(Expr::ImportValue(Box::new(export_name.into().to_expr())))
}

/// `AWS::NoValue`: the property is left out when a condition selects it.
pub fn no_value<T>() -> Value<T> {
    Value::expr(Expr::Pseudo(Pseudo::NoValue))
}

/// JSON text whose strings include deploy-time values (a dashboard body, say): build the
/// document with [`JsonText::value`] tokens where values go, then [`JsonText::render`] it into an
/// `Fn::Sub`.
#[derive(Debug, Default)]
pub struct JsonText {
    values: Vec<Value<String>>,
}

const TOKEN_OPEN: &str = "@@ef:";
const TOKEN_CLOSE: &str = "@@";

impl JsonText {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token standing for `value` inside a JSON string of the document.
    pub fn value(&mut self, value: Value<String>) -> String {
        self.values.push(value);
        format!("{TOKEN_OPEN}{}{TOKEN_CLOSE}", self.values.len() - 1)
    }

    /// The document as compact JSON text, tokens replaced by their values.
    pub fn render(&self, document: &Json) -> Value<String> {
        let text = crate::synth::canonical(document.clone()).to_string();
        let mut parts = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find(TOKEN_OPEN) {
            let after = &rest[start + TOKEN_OPEN.len()..];
            let token = after
                .find(TOKEN_CLOSE)
                .and_then(|end| after[..end].parse::<usize>().ok().map(|index| (index, end)));
            match token.and_then(|(index, end)| self.values.get(index).map(|value| (value, end))) {
                Some((value, end)) => {
                    parts.push(SubPart::Text(rest[..start].to_owned()));
                    parts.push(SubPart::from(value));
                    rest = &after[end + TOKEN_CLOSE.len()..];
                }
                None => {
                    parts.push(SubPart::Text(rest[..start + TOKEN_OPEN.len()].to_owned()));
                    rest = after;
                }
            }
        }
        parts.push(SubPart::Text(rest.to_owned()));
        sub(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(stack: &str, id: &str) -> Value<String> {
        Value::expr(Expr::Ref(Target {
            stack: stack.to_owned(),
            logical_id: id.to_owned(),
        }))
    }

    #[test]
    fn json_text_turns_each_token_into_a_sub_variable() {
        let mut text = JsonText::new();
        let token = text.value(reference("s", "Queue"));
        let rendered = text
            .render(&json!({ "queue": token, "note": "${literal}" }))
            .to_json();
        assert_eq!(
            rendered,
            json!({ "Fn::Sub": [
                "{\"note\":\"${!literal}\",\"queue\":\"${EfVar0}\"}",
                { "EfVar0": { REF_MARKER: ["s", "Queue"] } }
            ] })
        );
    }

    #[test]
    fn json_text_without_values_is_a_literal() {
        let text = JsonText::new();
        assert_eq!(
            text.render(&json!({ "a": 1 })),
            Value::Literal("{\"a\":1}".to_owned())
        );
    }

    #[test]
    fn literals_serialise_as_themselves_and_intrinsics_as_functions() {
        assert_eq!(serde_json::to_value(Value::from(5i64)).unwrap(), json!(5));
        assert_eq!(
            serde_json::to_value(select(1, availability_zones())).unwrap(),
            json!({ "Fn::Select": ["1", { "Fn::GetAZs": "" }] })
        );
        assert_eq!(
            serde_json::to_value(import_value("shared:Vpc")).unwrap(),
            json!({ "Fn::ImportValue": "shared:Vpc" })
        );
        assert_eq!(
            Pseudo::Region.value().to_json(),
            json!({ "Ref": "AWS::Region" })
        );
    }
}
