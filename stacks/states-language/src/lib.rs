//! Amazon States Language, typed.
//!
//! A [`Definition`] is built in Rust, checked by [`Definition::validate`], and serialised to the
//! ASL JSON that goes into the template and that the local runtime executes unchanged. Tasks
//! name the function they invoke; the JSON refers to it through a
//! `${<Function>FunctionArn}` placeholder which `DefinitionSubstitutions` fills on AWS and the
//! local runtime maps back to the function (see [`Definition::substitutions`]).
//!
//! The crate also holds the two conventions the task placeholders share with the templates that
//! fill them: [`upper_camel`] (a function's kebab-case name to the `UpperCamelCase` of its
//! logical id and placeholder) and [`canonical`] (JSON with sorted keys). `typed-cloudformation`
//! uses the same two, so a placeholder and its `DefinitionSubstitutions` key cannot disagree.
//! It depends on serde alone: the local runtime reads a definition without the CloudFormation
//! library.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use serde_json::{Map, json};

mod json;
mod naming;

pub use json::{Json, canonical};
pub use naming::upper_camel;

/// Errors that every Lambda task retries: the service's transient failures and task timeouts.
pub const TRANSIENT_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "States.Timeout",
];

/// Matches every error (must be alone in its `ErrorEquals` and come last).
pub const ALL_ERRORS: &str = "States.ALL";

/// A state machine definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub comment: String,
    pub start_at: String,
    /// States in the order they are declared (rendered sorted by name: JSON objects are sets).
    pub states: Vec<(String, State)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(Task),
    Choice(Choice),
    Pass(Pass),
    Wait(Wait),
    Succeed(Succeed),
    Fail(Fail),
}

/// Where a state goes next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Transition {
    Next(String),
    /// Always `true`: the execution ends here.
    End(bool),
}

impl Transition {
    pub fn next(state: &str) -> Self {
        Self::Next(state.to_owned())
    }

    pub fn end() -> Self {
        Self::End(true)
    }
}

/// A task that invokes one of the application's Lambda functions with the state input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    /// The `${...FunctionArn}` placeholder of the invoked function.
    pub resource: String,
    #[serde(skip)]
    pub function: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    pub timeout_seconds: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

impl Task {
    /// Invokes `function` (e.g. `validate-order`) with at most `timeout_seconds` to answer.
    pub fn lambda(function: &str, timeout_seconds: u32, transition: Transition) -> Self {
        Self {
            resource: format!("${{{}}}", placeholder(function)),
            function: function.to_owned(),
            comment: None,
            input_path: None,
            parameters: None,
            result_path: None,
            output_path: None,
            timeout_seconds,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }

    pub fn result_path(mut self, path: &str) -> Self {
        self.result_path = Some(path.to_owned());
        self
    }

    pub fn retry(mut self, retrier: Retrier) -> Self {
        self.retry.push(retrier);
        self
    }

    pub fn catch(mut self, catcher: Catcher) -> Self {
        self.catch.push(catcher);
        self
    }
}

/// The substitution variable of a function's ARN: `validate-order` -> `ValidateOrderFunctionArn`.
pub fn placeholder(function: &str) -> String {
    format!("{}FunctionArn", upper_camel(function))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<&'static str>,
}

impl Retrier {
    /// Exponential backoff with full jitter on `errors`.
    pub fn backoff(errors: &[&str], interval_seconds: u32, max_attempts: u32) -> Self {
        Self {
            error_equals: errors.iter().map(|e| (*e).to_owned()).collect(),
            interval_seconds,
            max_attempts,
            backoff_rate: 2.0,
            max_delay_seconds: Some(30),
            jitter_strategy: Some("FULL"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
}

impl Catcher {
    /// On `errors`, records the error at `result_path` and goes to `next`.
    pub fn new(errors: &[&str], next: &str, result_path: &str) -> Self {
        Self {
            error_equals: errors.iter().map(|e| (*e).to_owned()).collect(),
            next: next.to_owned(),
            result_path: Some(result_path.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    pub choices: Vec<ChoiceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// One branch of a choice: `Variable` compared with a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceRule {
    pub variable: String,
    #[serde(flatten)]
    pub comparison: Comparison,
    pub next: String,
}

impl ChoiceRule {
    /// The rule's test in a few words, e.g. `$.payment.approved == true`.
    pub fn condition(&self) -> String {
        let (operator, value) = match &self.comparison {
            Comparison::StringEquals(value) => ("==", format!("{value:?}")),
            Comparison::BooleanEquals(value) => ("==", value.to_string()),
            Comparison::NumericGreaterThan(value) => (">", value.to_string()),
            Comparison::NumericLessThanEquals(value) => ("<=", value.to_string()),
            Comparison::IsPresent(true) => return format!("{} is present", self.variable),
            Comparison::IsPresent(false) => return format!("{} is absent", self.variable),
        };
        format!("{} {operator} {value}", self.variable)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Comparison {
    StringEquals(String),
    BooleanEquals(bool),
    NumericGreaterThan(f64),
    NumericLessThanEquals(f64),
    IsPresent(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    pub seconds: u32,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Succeed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    pub error: String,
    pub cause: String,
}

/// The normal next state, unlabelled, if there is one.
fn plain_transition(transition: &Transition) -> Vec<(&str, String)> {
    match transition {
        Transition::Next(next) => vec![(next.as_str(), String::new())],
        Transition::End(_) => Vec::new(),
    }
}

impl State {
    /// Every state this one can go to.
    fn successors(&self) -> Vec<&str> {
        self.transitions()
            .into_iter()
            .map(|(next, _)| next)
            .collect()
    }

    /// Every state this one can go to, with what takes it there: empty for the normal next
    /// state, the error names for a catcher, the condition for a choice.
    pub fn transitions(&self) -> Vec<(&str, String)> {
        match self {
            Self::Task(task) => {
                let mut next = plain_transition(&task.transition);
                next.extend(
                    task.catch
                        .iter()
                        .map(|catcher| (catcher.next.as_str(), catcher.error_equals.join(" / "))),
                );
                next
            }
            Self::Choice(choice) => choice
                .choices
                .iter()
                .map(|rule| (rule.next.as_str(), rule.condition()))
                .chain(
                    choice
                        .default
                        .as_deref()
                        .map(|next| (next, "otherwise".to_owned())),
                )
                .collect(),
            Self::Pass(pass) => plain_transition(&pass.transition),
            Self::Wait(wait) => plain_transition(&wait.transition),
            Self::Succeed(_) | Self::Fail(_) => Vec::new(),
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            Self::Succeed(_) | Self::Fail(_) => true,
            Self::Task(Task { transition, .. })
            | Self::Pass(Pass { transition, .. })
            | Self::Wait(Wait { transition, .. }) => matches!(transition, Transition::End(_)),
            Self::Choice(_) => false,
        }
    }
}

impl Definition {
    /// The ASL document, keys sorted, with `${...FunctionArn}` placeholders for the functions.
    pub fn to_json(&self) -> Json {
        let states: Map<String, Json> = self
            .states
            .iter()
            .map(|(name, state)| {
                (
                    name.clone(),
                    serde_json::to_value(state).unwrap_or(Json::Null),
                )
            })
            .collect();
        canonical(json!({
            "Comment": self.comment,
            "StartAt": self.start_at,
            "States": states,
        }))
    }

    /// Placeholder -> invoked function, e.g. `ValidateOrderFunctionArn` -> `validate-order`.
    pub fn substitutions(&self) -> BTreeMap<String, String> {
        self.tasks()
            .map(|task| (placeholder(&task.function), task.function.clone()))
            .collect()
    }

    /// The functions the state machine invokes, sorted: its role may invoke exactly these.
    pub fn invoked_functions(&self) -> BTreeSet<String> {
        self.tasks().map(|task| task.function.clone()).collect()
    }

    fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.states.iter().filter_map(|(_, state)| match state {
            State::Task(task) => Some(task),
            _ => None,
        })
    }

    /// Structural checks: unique names, every target exists, every state is reachable from
    /// `StartAt`, a terminal state exists, every task has a timeout and `States.ALL` is alone
    /// and last. Returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for (name, _) in &self.states {
            if !names.insert(name.as_str()) {
                problems.push(format!("state {name} is declared twice"));
            }
        }
        if !names.contains(self.start_at.as_str()) {
            problems.push(format!("StartAt {} is not a state", self.start_at));
        }
        let by_name: BTreeMap<&str, &State> = self
            .states
            .iter()
            .map(|(name, state)| (name.as_str(), state))
            .collect();
        for (name, state) in &self.states {
            for next in state.successors() {
                if !names.contains(next) {
                    problems.push(format!("{name} goes to {next}, which is not a state"));
                }
            }
            if let State::Task(task) = state {
                if task.timeout_seconds == 0 {
                    problems.push(format!("task {name} has no timeout"));
                }
                let lists = task
                    .retry
                    .iter()
                    .map(|r| &r.error_equals)
                    .chain(task.catch.iter().map(|c| &c.error_equals));
                for errors in lists {
                    if errors.iter().any(|e| e == ALL_ERRORS) && errors.len() > 1 {
                        problems.push(format!("{name}: {ALL_ERRORS} must be alone in ErrorEquals"));
                    }
                }
                if let Some(position) = task
                    .catch
                    .iter()
                    .position(|c| c.error_equals.iter().any(|e| e == ALL_ERRORS))
                    && position + 1 != task.catch.len()
                {
                    problems.push(format!("{name}: the {ALL_ERRORS} catcher must be last"));
                }
            }
        }
        if !self.states.iter().any(|(_, state)| state.is_terminal()) {
            problems.push("no state ends the execution".to_owned());
        }
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::from([self.start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            if !reached.insert(name) {
                continue;
            }
            if let Some(state) = by_name.get(name) {
                queue.extend(state.successors());
            }
        }
        for (name, _) in &self.states {
            if !reached.contains(name.as_str()) {
                problems.push(format!("state {name} is unreachable"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(states: Vec<(&str, State)>) -> Definition {
        Definition {
            comment: "test".into(),
            start_at: states[0].0.to_owned(),
            states: states.into_iter().map(|(n, s)| (n.to_owned(), s)).collect(),
        }
    }

    #[test]
    fn a_task_serialises_to_asl_with_its_placeholder_retry_and_catch() {
        let task = Task::lambda("charge-payment", 30, Transition::next("Confirm"))
            .result_path("$.payment")
            .retry(Retrier::backoff(&["States.Timeout"], 2, 3))
            .catch(Catcher::new(&["PaymentDeclined"], "Release", "$.error"));
        let json = serde_json::to_value(State::Task(task)).unwrap();
        assert_eq!(json["Type"], "Task");
        assert_eq!(json["Resource"], "${ChargePaymentFunctionArn}");
        assert_eq!(json["TimeoutSeconds"], 30);
        assert_eq!(json["Next"], "Confirm");
        assert_eq!(json["Retry"][0]["BackoffRate"], 2.0);
        assert_eq!(json["Catch"][0]["ErrorEquals"], json!(["PaymentDeclined"]));
        assert!(json.get("End").is_none());
    }

    #[test]
    fn choice_wait_pass_and_fail_serialise_to_asl() {
        let choice = State::Choice(Choice {
            choices: vec![ChoiceRule {
                variable: "$.paid".into(),
                comparison: Comparison::BooleanEquals(true),
                next: "Done".into(),
            }],
            default: Some("Later".into()),
        });
        let json = serde_json::to_value(choice).unwrap();
        assert_eq!(json["Choices"][0]["BooleanEquals"], true);
        assert_eq!(json["Default"], "Later");
        let wait = serde_json::to_value(State::Wait(Wait {
            seconds: 5,
            transition: Transition::next("Check"),
        }))
        .unwrap();
        assert_eq!(wait, json!({"Type": "Wait", "Seconds": 5, "Next": "Check"}));
        let pass = serde_json::to_value(State::Pass(Pass {
            input_path: None,
            parameters: None,
            result: Some(json!({"ok": true})),
            result_path: Some("$.r".into()),
            output_path: None,
            transition: Transition::end(),
        }))
        .unwrap();
        assert_eq!(pass["End"], true);
        let fail = serde_json::to_value(State::Fail(Fail {
            error: "E".into(),
            cause: "c".into(),
        }))
        .unwrap();
        assert_eq!(fail, json!({"Type": "Fail", "Error": "E", "Cause": "c"}));
    }

    #[test]
    fn validation_reports_missing_targets_unreachable_states_and_missing_terminals() {
        let broken = definition(vec![
            (
                "A",
                State::Pass(Pass {
                    input_path: None,
                    parameters: None,
                    result: None,
                    result_path: None,
                    output_path: None,
                    transition: Transition::next("Nowhere"),
                }),
            ),
            (
                "Orphan",
                State::Wait(Wait {
                    seconds: 1,
                    transition: Transition::next("A"),
                }),
            ),
        ]);
        let problems = broken.validate().unwrap_err();
        assert!(problems.contains(&"A goes to Nowhere, which is not a state".to_owned()));
        assert!(problems.contains(&"state Orphan is unreachable".to_owned()));
        assert!(problems.contains(&"no state ends the execution".to_owned()));
    }

    #[test]
    fn a_catch_all_before_a_specific_catcher_is_rejected() {
        let task = Task::lambda("f", 10, Transition::next("Done"))
            .catch(Catcher::new(&[ALL_ERRORS], "Done", "$.error"))
            .catch(Catcher::new(&["Specific"], "Done", "$.error"));
        let machine = definition(vec![
            ("T", State::Task(task)),
            ("Done", State::Succeed(Succeed::default())),
        ]);
        assert_eq!(
            machine.validate().unwrap_err(),
            vec!["T: the States.ALL catcher must be last"]
        );
    }
}
