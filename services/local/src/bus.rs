//! The event bus: the platform's rules (patterns and targets exactly as the messaging and
//! workflow stacks deploy them) evaluated against each published event, which is then delivered
//! to the saga or to queues. Deliveries are keyed by event, rule and target, so publishing an
//! event again (the outbox is at-least-once) delivers nothing twice.

use std::sync::Arc;

use eventforge_core::Event;
use eventforge_stacks::platform::event_source;
use eventforge_stacks::platform::messaging::{RuleSpec, RuleTarget, rules};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::error::{LocalError, LocalResult};
use crate::executor::Executor;
use crate::paths;
use crate::pattern::Pattern;
use crate::queues::Queues;

/// Where a rule delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Queue(String),
    StateMachine {
        name: String,
        /// The JSONPath of the event the execution receives as input.
        input_path: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub pattern: Pattern,
    pub targets: Vec<Target>,
}

impl Rule {
    fn from_spec(spec: &RuleSpec) -> LocalResult<Self> {
        Ok(Self {
            name: spec.name.to_owned(),
            pattern: Pattern::compile(&spec.pattern())?,
            targets: spec
                .targets
                .iter()
                .map(|target| match target {
                    RuleTarget::Queue(queue) => Target::Queue((*queue).to_owned()),
                    RuleTarget::StateMachine(name) => Target::StateMachine {
                        name: (*name).to_owned(),
                        input_path: RuleSpec::input_path(target).map(str::to_owned),
                    },
                })
                .collect(),
        })
    }

    /// The platform's rules, from the same values the stacks are built from.
    pub fn platform() -> LocalResult<Vec<Self>> {
        rules().iter().map(Self::from_spec).collect()
    }
}

/// An event as the outbox publisher puts it on EventBridge: the event record is the `detail`,
/// its type the `detail-type`, its origin (the platform or ingest) the `source`.
pub fn envelope(event: &Event) -> Value {
    json!({
        "version": "0",
        "id": event.id.to_string(),
        "detail-type": event.event_type.as_str(),
        "source": event_source(&event.event_type),
        "account": "000000000000",
        "time": event.occurred_at.replace_nanosecond(0).unwrap_or(event.occurred_at).format(&Rfc3339).unwrap_or_default(),
        "region": "local",
        "resources": [],
        "detail": event,
    })
}

/// What one published event reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// Rules whose pattern matched, by name.
    pub rules: Vec<String>,
    /// New queue messages and new executions (redeliveries excluded).
    pub new_deliveries: usize,
}

#[derive(Clone)]
pub struct Bus {
    rules: Arc<Vec<Rule>>,
    queues: Queues,
    executor: Executor,
}

impl Bus {
    pub fn new(rules: Vec<Rule>, queues: Queues, executor: Executor) -> Self {
        Self {
            rules: Arc::new(rules),
            queues,
            executor,
        }
    }

    /// Evaluates every rule against `event` (an EventBridge event) and delivers to the targets of
    /// those that match.
    pub async fn put(&self, event: &Value) -> LocalResult<Deliveries> {
        let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut deliveries = Deliveries::default();
        for rule in self.rules.iter().filter(|rule| rule.pattern.matches(event)) {
            deliveries.rules.push(rule.name.clone());
            for target in &rule.targets {
                let new = match target {
                    Target::Queue(queue) => {
                        let body = serde_json::to_string(event)?;
                        self.queues
                            .send(queue, &format!("{id}:{}:{queue}", rule.name), &body)
                            .await?
                    }
                    Target::StateMachine { name, input_path } => {
                        if name != self.executor.machine_name() {
                            return Err(LocalError::Definition(format!(
                                "rule {} targets the unknown state machine {name}",
                                rule.name
                            )));
                        }
                        let input = match input_path {
                            Some(path) => paths::read(path, event, &Value::Null)
                                .map_err(|e| LocalError::Definition(e.0))?,
                            None => event.clone(),
                        };
                        self.executor
                            .start(&format!("{}-{id}", rule.name), input)
                            .await?
                    }
                };
                deliveries.new_deliveries += usize::from(new);
            }
        }
        Ok(deliveries)
    }
}
