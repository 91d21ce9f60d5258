//! The event bus: the platform's rules (patterns and targets exactly as the messaging and
//! workflow stacks deploy them) evaluated against each published event, which is then delivered
//! to the saga or to queues. Deliveries are keyed by event, rule and target, so publishing an
//! event again (the outbox is at-least-once) delivers nothing twice.

use std::sync::Arc;

use eventforge_core::Event;
use eventforge_topology::{RuleSpec, RuleTarget, event_source, rules};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::error::{LocalError, LocalResult};
use crate::executor::Executor;
use crate::paths;
use crate::pattern::Pattern;
use crate::queues::{OutgoingMessage, Queues};

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
                    RuleTarget::Queue(queue) => Target::Queue(queue.name().to_owned()),
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
        "source": event_source(event.event_type.is_platform_owned()),
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
        let mut deliveries = self.put_all(std::slice::from_ref(event)).await?;
        Ok(deliveries.pop().unwrap_or_default())
    }

    /// [`Self::put`] for each of `events`, with one transaction for all their queue messages and
    /// one for all the executions they start (the outbox drains in batches).
    pub async fn put_all(&self, events: &[Value]) -> LocalResult<Vec<Deliveries>> {
        let mut deliveries = vec![Deliveries::default(); events.len()];
        // Which event each message and each start is for.
        let (mut messages, mut message_events) = (Vec::new(), Vec::new());
        let (mut starts, mut start_events) = (Vec::new(), Vec::new());
        for (index, event) in events.iter().enumerate() {
            let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
            for rule in self.rules.iter().filter(|rule| rule.pattern.matches(event)) {
                deliveries[index].rules.push(rule.name.clone());
                for target in &rule.targets {
                    match target {
                        Target::Queue(queue) => {
                            messages.push(OutgoingMessage {
                                queue: queue.clone(),
                                id: format!("{id}:{}:{queue}", rule.name),
                                body: serde_json::to_string(event)?,
                            });
                            message_events.push(index);
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
                            starts.push((format!("{}-{id}", rule.name), input));
                            start_events.push(index);
                        }
                    }
                }
            }
        }
        // Both go to the runtime database's writer at once, so they share a commit, and the
        // executions start without waiting for the messages' commit first.
        let (sent, started) = tokio::try_join!(
            self.queues.send_all(messages),
            self.executor.start_all(starts)
        )?;
        for (index, new) in message_events
            .into_iter()
            .zip(sent)
            .chain(start_events.into_iter().zip(started))
        {
            deliveries[index].new_deliveries += usize::from(new);
        }
        Ok(deliveries)
    }
}
