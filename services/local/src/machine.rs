//! The States Language document as the executor reads it: deserialised from the JSON that
//! `eventforge-stacks` synthesises, with every `${...FunctionArn}` placeholder mapped back to the
//! function it stands for. Fields this runtime does not implement are refused when loading
//! rather than silently ignored, so what runs locally cannot quietly differ from AWS.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use states_language::Definition;

use crate::error::LocalError;
use crate::paths::{PathField, nullable};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StateMachine {
    #[serde(default)]
    pub comment: Option<String>,
    pub start_at: String,
    pub states: BTreeMap<String, State>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(TaskState),
    Choice(ChoiceState),
    Pass(PassState),
    Wait(WaitState),
    Succeed(SucceedState),
    Fail(FailState),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TaskState {
    /// The invoked function's name once loaded (the placeholder substituted).
    pub resource: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: PathField,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: PathField,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: PathField,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    #[serde(default = "one")]
    pub interval_seconds: f64,
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default = "two")]
    pub backoff_rate: f64,
    #[serde(default)]
    pub max_delay_seconds: Option<f64>,
    /// `FULL` or `NONE` (the default).
    #[serde(default)]
    pub jitter_strategy: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

fn one() -> f64 {
    1.0
}
fn two() -> f64 {
    2.0
}
fn three() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: PathField,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChoiceState {
    /// Each rule is a condition (parsed by [`Condition::parse`]) with a `Next`.
    pub choices: Vec<Value>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: PathField,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: PathField,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PassState {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: PathField,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: PathField,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: PathField,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WaitState {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub seconds: Option<f64>,
    #[serde(default)]
    pub seconds_path: Option<String>,
    /// RFC 3339 instant to wait until.
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub timestamp_path: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: PathField,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: PathField,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SucceedState {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: PathField,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: PathField,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FailState {
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

/// A Choice rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        variable: String,
        operator: Operator,
        operand: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    /// The `...Path` form: compare with the value at this path.
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

impl Operator {
    const ALL: [(&'static str, Operator); 23] = [
        ("StringEquals", Self::StringEquals),
        ("StringLessThan", Self::StringLessThan),
        ("StringGreaterThan", Self::StringGreaterThan),
        ("StringLessThanEquals", Self::StringLessThanEquals),
        ("StringGreaterThanEquals", Self::StringGreaterThanEquals),
        ("StringMatches", Self::StringMatches),
        ("NumericEquals", Self::NumericEquals),
        ("NumericLessThan", Self::NumericLessThan),
        ("NumericGreaterThan", Self::NumericGreaterThan),
        ("NumericLessThanEquals", Self::NumericLessThanEquals),
        ("NumericGreaterThanEquals", Self::NumericGreaterThanEquals),
        ("BooleanEquals", Self::BooleanEquals),
        ("TimestampEquals", Self::TimestampEquals),
        ("TimestampLessThan", Self::TimestampLessThan),
        ("TimestampGreaterThan", Self::TimestampGreaterThan),
        ("TimestampLessThanEquals", Self::TimestampLessThanEquals),
        (
            "TimestampGreaterThanEquals",
            Self::TimestampGreaterThanEquals,
        ),
        ("IsNull", Self::IsNull),
        ("IsPresent", Self::IsPresent),
        ("IsNumeric", Self::IsNumeric),
        ("IsString", Self::IsString),
        ("IsBoolean", Self::IsBoolean),
        ("IsTimestamp", Self::IsTimestamp),
    ];

    /// `StringEquals` -> (StringEquals, literal); `StringEqualsPath` -> (StringEquals, path).
    fn from_key(key: &str) -> Option<(Self, bool)> {
        let (name, by_path) = match key.strip_suffix("Path") {
            Some(name) if !key.starts_with("Is") => (name, true),
            _ => (key, false),
        };
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, op)| (*op, by_path))
    }
}

impl Condition {
    /// Parses one condition (a Choice rule without its `Next`, or a nested one).
    pub fn parse(rule: &Value) -> Result<Self, String> {
        let fields = rule
            .as_object()
            .ok_or_else(|| format!("a choice rule must be an object: {rule}"))?;
        let keys: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "Next" | "Comment"))
            .collect();
        let list = |value: &Value| -> Result<Vec<Condition>, String> {
            value
                .as_array()
                .ok_or_else(|| "And/Or take an array of conditions".to_owned())?
                .iter()
                .map(Condition::parse)
                .collect()
        };
        match keys.as_slice() {
            ["And"] => Ok(Self::And(list(&fields["And"])?)),
            ["Or"] => Ok(Self::Or(list(&fields["Or"])?)),
            ["Not"] => Ok(Self::Not(Box::new(Self::parse(&fields["Not"])?))),
            [a, b] if *a == "Variable" || *b == "Variable" => {
                let key = if *a == "Variable" { *b } else { *a };
                let variable = fields["Variable"]
                    .as_str()
                    .ok_or_else(|| "Variable must be a path string".to_owned())?
                    .to_owned();
                let (operator, by_path) = Operator::from_key(key)
                    .ok_or_else(|| format!("unsupported choice comparison {key}"))?;
                let value = fields[key].clone();
                let operand = if by_path {
                    Operand::Path(
                        value
                            .as_str()
                            .ok_or_else(|| format!("{key} must be a path string"))?
                            .to_owned(),
                    )
                } else {
                    Operand::Literal(value)
                };
                Ok(Self::Compare {
                    variable,
                    operator,
                    operand,
                })
            }
            other => Err(format!("unsupported choice rule with fields {other:?}")),
        }
    }
}

/// A loaded machine: the document plus every Choice rule parsed.
#[derive(Debug, Clone)]
pub struct Machine {
    pub document: StateMachine,
    /// Per Choice state, its rules as (condition, next).
    pub choices: BTreeMap<String, Vec<(Condition, String)>>,
}

impl Machine {
    /// Loads the ASL document of `definition`, as synthesised, with each task's resource set to
    /// the function its placeholder stands for.
    pub fn from_definition(definition: &Definition) -> Result<Self, LocalError> {
        let substitutions: BTreeMap<String, String> = definition
            .substitutions()
            .into_iter()
            .map(|(placeholder, function)| (format!("${{{placeholder}}}"), function))
            .collect();
        Self::from_json(&definition.to_json(), &substitutions)
    }

    /// Loads an ASL document; a task resource found in `substitutions` is replaced by its value.
    pub fn from_json(
        document: &Value,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<Self, LocalError> {
        let mut document: StateMachine = serde_json::from_value(document.clone())
            .map_err(|e| LocalError::Definition(e.to_string()))?;
        let mut choices = BTreeMap::new();
        let names: Vec<String> = document.states.keys().cloned().collect();
        let known = |target: &str| -> Result<(), LocalError> {
            if names.iter().any(|n| n == target) {
                Ok(())
            } else {
                Err(LocalError::Definition(format!("{target} is not a state")))
            }
        };
        known(&document.start_at)?;
        for (name, state) in &mut document.states {
            let flow = |next: &Option<String>, end: &Option<bool>| -> Result<(), LocalError> {
                match (next, end) {
                    (Some(next), None | Some(false)) => known(next),
                    (None, Some(true)) => Ok(()),
                    _ => Err(LocalError::Definition(format!(
                        "{name} must have exactly one of Next and End"
                    ))),
                }
            };
            match state {
                State::Task(task) => {
                    if let Some(function) = substitutions.get(&task.resource) {
                        task.resource = function.clone();
                    }
                    flow(&task.next, &task.end)?;
                    for catcher in &task.catch {
                        known(&catcher.next)?;
                    }
                }
                State::Pass(pass) => flow(&pass.next, &pass.end)?,
                State::Wait(wait) => flow(&wait.next, &wait.end)?,
                State::Choice(choice) => {
                    let mut rules = Vec::new();
                    for rule in &choice.choices {
                        let next = rule
                            .get("Next")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                LocalError::Definition(format!("a rule of {name} has no Next"))
                            })?
                            .to_owned();
                        known(&next)?;
                        let condition = Condition::parse(rule)
                            .map_err(|e| LocalError::Definition(format!("{name}: {e}")))?;
                        rules.push((condition, next));
                    }
                    if let Some(default) = &choice.default {
                        known(default)?;
                    }
                    choices.insert(name.clone(), rules);
                }
                State::Succeed(_) | State::Fail(_) => {}
            }
        }
        Ok(Self { document, choices })
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.document.states.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_saga_loads_with_its_functions_named() {
        let machine =
            Machine::from_definition(&eventforge_topology::saga::saga_definition()).unwrap();
        assert_eq!(machine.document.start_at, "ValidateOrder");
        let State::Task(task) = machine.state("ChargePayment").unwrap() else {
            panic!("ChargePayment is a task");
        };
        assert_eq!(task.resource, "charge-payment");
        assert!(task.timeout_seconds.is_some());
        assert_eq!(task.retry[0].jitter_strategy.as_deref(), Some("FULL"));
    }

    #[test]
    fn unknown_fields_and_dangling_targets_are_refused() {
        let unknown = serde_json::json!({
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "End": true, "Mystery": 1}}
        });
        assert!(Machine::from_json(&unknown, &BTreeMap::new()).is_err());
        let dangling = serde_json::json!({
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "Next": "B"}}
        });
        assert!(Machine::from_json(&dangling, &BTreeMap::new()).is_err());
    }

    #[test]
    fn choice_rules_parse_including_path_forms_and_combinators() {
        let rule = serde_json::json!({
            "And": [
                {"Variable": "$.a", "NumericGreaterThanPath": "$.b"},
                {"Not": {"Variable": "$.c", "IsPresent": true}}
            ],
            "Next": "X"
        });
        let condition = Condition::parse(&rule).unwrap();
        let Condition::And(parts) = condition else {
            panic!("an And");
        };
        assert_eq!(
            parts[0],
            Condition::Compare {
                variable: "$.a".into(),
                operator: Operator::NumericGreaterThan,
                operand: Operand::Path("$.b".into())
            }
        );
    }
}
