//! Messaging: the custom event bus, the three work queues with their dead-letter queues, and the
//! rules that fan order events out to them.
//!
//! [`queues`] and [`rules`] are plain data: the stack is built from them, and the local runtime
//! reads the very same values, so the queues and routing that run locally are the deployed ones.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use typed_cloudformation::generated::{events, sqs};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::{Accepted, ResourceOptions};
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{Json, Value};

use super::components::{Bus, QueueWithDlq};
use super::{Built, Config, EVENT_SOURCE, INGESTED_EVENT_SOURCE};

/// The settings of one work queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSettings {
    /// `email`, `receipt` or `webhook`.
    pub name: &'static str,
    /// The function consuming the queue.
    pub consumer: &'static str,
    /// Six times the consumer's timeout, as AWS advises for Lambda consumers.
    pub visibility_timeout_seconds: u32,
    /// Deliveries before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
    pub message_retention_seconds: u32,
    pub dlq_retention_seconds: u32,
    /// Messages per consumer invocation; failures are reported per message.
    pub batch_size: u32,
}

impl QueueSettings {
    /// The dead-letter queue's name in the platform, e.g. `email-dlq`.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}-dlq", self.name)
    }
}

/// How long a processor may run per batch.
pub const PROCESSOR_TIMEOUT_SECONDS: u32 = 30;

const FOUR_DAYS: u32 = 4 * 24 * 3600;
const FOURTEEN_DAYS: u32 = 14 * 24 * 3600;

/// The three work queues.
pub fn queues() -> Vec<QueueSettings> {
    [
        ("email", "email-processor"),
        ("receipt", "receipt-processor"),
        ("webhook", "webhook-processor"),
    ]
    .into_iter()
    .map(|(name, consumer)| QueueSettings {
        name,
        consumer,
        visibility_timeout_seconds: 6 * PROCESSOR_TIMEOUT_SECONDS,
        max_receive_count: 5,
        message_retention_seconds: FOUR_DAYS,
        dlq_retention_seconds: FOURTEEN_DAYS,
        batch_size: 10,
    })
    .collect()
}

/// Where a rule delivers matching events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum RuleTarget {
    /// One of [`queues`], by name.
    Queue(&'static str),
    /// The saga state machine ([`super::workflow::SAGA_NAME`]); it receives the event's
    /// `detail` (the platform's event record) as its input.
    StateMachine(&'static str),
}

/// An EventBridge rule on the platform's bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Matched against the event's `source`: [`EVENT_SOURCE`] or [`INGESTED_EVENT_SOURCE`].
    pub source: &'static str,
    /// Matched against the event's `detail-type`, which is the event type; empty matches every
    /// type of the source.
    pub event_types: Vec<&'static str>,
    pub targets: Vec<RuleTarget>,
}

impl RuleSpec {
    /// The EventBridge event pattern.
    pub fn pattern(&self) -> Json {
        let mut pattern = json!({ "source": [self.source] });
        if !self.event_types.is_empty() {
            pattern["detail-type"] = json!(self.event_types);
        }
        pattern
    }

    /// The JSONPath of the event passed to a target: state machines get the event record only.
    pub fn input_path(target: &RuleTarget) -> Option<&'static str> {
        match target {
            RuleTarget::StateMachine(_) => Some("$.detail"),
            RuleTarget::Queue(_) => None,
        }
    }
}

/// Every rule of the platform, the saga trigger included.
pub fn rules() -> Vec<RuleSpec> {
    use RuleTarget::{Queue, StateMachine};
    vec![
        RuleSpec {
            name: "start-saga",
            description: "A new order starts the order saga",
            source: EVENT_SOURCE,
            event_types: vec!["order.created"],
            targets: vec![StateMachine(super::workflow::SAGA_NAME)],
        },
        RuleSpec {
            name: "order-created",
            description: "New orders are announced to webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.created"],
            targets: vec![Queue("webhook")],
        },
        RuleSpec {
            name: "order-confirmed",
            description: "Confirmed orders get an email, a receipt and webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.confirmed"],
            targets: vec![Queue("email"), Queue("receipt"), Queue("webhook")],
        },
        RuleSpec {
            name: "order-failed",
            description: "Failed orders get an email and webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.failed"],
            targets: vec![Queue("email"), Queue("webhook")],
        },
        RuleSpec {
            name: "ingested",
            description: "Events from outside systems reach the webhooks registered for them",
            source: INGESTED_EVENT_SOURCE,
            event_types: vec![],
            targets: vec![Queue("webhook")],
        },
    ]
}

pub struct Outputs {
    pub bus: Bus,
    pub queues: Vec<QueueWithDlq>,
}

impl Outputs {
    /// The queue named `name` (one of [`queues`]).
    pub fn queue(&self, name: &str) -> Option<&QueueWithDlq> {
        self.queues.iter().find(|queue| queue.name == name)
    }
}

/// The queues are encrypted, by SQS's own keys (SSE-SQS); checkov looks for a KMS key only.
const QUEUE_ENCRYPTED_BY_SQS: Accepted = Accepted {
    check: "CKV_AWS_27",
    reason: "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled). The check asks for a KMS key, \
             and a queue under the AWS-managed aws/sqs key cannot receive from EventBridge: that \
             key's policy cannot admit events.amazonaws.com, so every delivery would fail.",
};

pub fn stack(app: &App, config: &Config) -> Built<Outputs> {
    let prefix = config.prefix();
    let mut stack = app.new_stack(
        "messaging",
        "EventForge messaging: event bus, rules, work queues",
    );
    let bus = stack.add(
        "EventBus",
        events::EventBus::new(prefix.clone()).description("Order events published from the outbox"),
    );
    let queues: Vec<QueueWithDlq> = queues()
        .into_iter()
        .map(|settings| {
            let id = typed_cloudformation::naming::upper_camel(settings.name);
            let dlq = stack.add_with(
                &format!("{id}DeadLetterQueue"),
                sqs::Queue::new()
                    .queue_name(format!("{prefix}-{}", settings.dead_letter_queue()))
                    .message_retention_period(settings.dlq_retention_seconds)
                    .sqs_managed_sse_enabled(true),
                ResourceOptions::delete().accept(&[QUEUE_ENCRYPTED_BY_SQS]),
            );
            let queue = stack.add_with(
                &format!("{id}Queue"),
                sqs::Queue::new()
                    .queue_name(format!("{prefix}-{}", settings.name))
                    .visibility_timeout(settings.visibility_timeout_seconds)
                    .message_retention_period(settings.message_retention_seconds)
                    .sqs_managed_sse_enabled(true)
                    .redrive_policy(
                        sqs::queue::QueueRedrivePolicy::new()
                            .dead_letter_target_arn(dlq.arn())
                            .max_receive_count(settings.max_receive_count),
                    ),
                ResourceOptions::delete().accept(&[QUEUE_ENCRYPTED_BY_SQS]),
            );
            QueueWithDlq {
                name: settings.name,
                queue,
                dlq,
            }
        })
        .collect();

    // Rules delivering to queues live here; the saga trigger lives with the state machine.
    let mut senders: BTreeMap<&str, Vec<Value<String>>> = BTreeMap::new();
    for rule in rules() {
        let targets: Vec<events::rule::Target> = rule
            .targets
            .iter()
            .filter_map(|target| match target {
                RuleTarget::Queue(name) => queues.iter().find(|queue| queue.name == *name),
                RuleTarget::StateMachine(_) => None,
            })
            .map(|queue| {
                events::rule::Target::new(queue.queue.arn(), format!("{}-queue", queue.name))
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let handle: Handle<events::Rule> = stack.add(
            &format!(
                "{}Rule",
                typed_cloudformation::naming::upper_camel(rule.name)
            ),
            events::Rule::new()
                .description(rule.description)
                .event_bus_name(bus.reference())
                .event_pattern(rule.pattern())
                .targets(targets),
        );
        for target in &rule.targets {
            if let RuleTarget::Queue(name) = target {
                senders.entry(name).or_default().push(handle.arn());
            }
        }
    }
    for queue in &queues {
        let rule_arns = senders.remove(queue.name).unwrap_or_default();
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "EventBridgeRulesSend",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sqs:SendMessage",
                "Resource": queue.queue.arn().to_json(),
                "Condition": { "ArnEquals": { "aws:SourceArn": rule_arns.iter().map(Value::to_json).collect::<Vec<_>>() } },
            }],
        });
        stack.add(
            &format!(
                "{}QueuePolicy",
                typed_cloudformation::naming::upper_camel(queue.name)
            ),
            sqs::QueuePolicy::new(policy, vec![queue.queue.reference()]),
        );
    }
    Built {
        stack,
        outputs: Outputs {
            bus: Bus { handle: bus },
            queues,
        },
    }
}
