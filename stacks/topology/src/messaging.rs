//! The work queues, the rules that route events to them and to the saga, and the sources those
//! rules match.
//!
//! The messaging stack is built from [`queues`] and [`rules`], and the local runtime reads the
//! very same values, so the queues and routing that run locally are the deployed ones.

use std::fmt;

use serde_json::json;
use states_language::Json;

use crate::Function;
use crate::PROCESSOR_TIMEOUT_SECONDS;
use crate::saga::SAGA_NAME;

/// The EventBridge `source` of the events the platform itself records (the outbox publisher
/// sets it; the saga's and the processors' rules match on it).
pub const EVENT_SOURCE: &str = "eventforge.orders";
/// The EventBridge `source` of events outside systems posted to `/webhooks/ingest`: a rule of
/// their own fans them out, and no rule of the platform's events can match them.
pub const INGESTED_EVENT_SOURCE: &str = "eventforge.ingested";

/// The `source` an event is published with: the platform's for its own event types
/// (`EventType::is_platform_owned`), the ingest source for every other type (ingest refuses the
/// platform's own).
pub fn event_source(platform_owned: bool) -> &'static str {
    if platform_owned {
        EVENT_SOURCE
    } else {
        INGESTED_EVENT_SOURCE
    }
}

/// One of the work queues, each with its dead-letter queue and its processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Queue {
    Email,
    Receipt,
    Webhook,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Email, Queue::Receipt, Queue::Webhook];

    /// `email`, `receipt` or `webhook`; prefixed by the stage on AWS.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Receipt => "receipt",
            Self::Webhook => "webhook",
        }
    }

    /// The function consuming the queue.
    pub const fn consumer(self) -> Function {
        match self {
            Self::Email => Function::EmailProcessor,
            Self::Receipt => Function::ReceiptProcessor,
            Self::Webhook => Function::WebhookProcessor,
        }
    }

    pub const fn settings(self) -> QueueSettings {
        QueueSettings {
            name: self.name(),
            consumer: self.consumer().name(),
            visibility_timeout_seconds: 6 * PROCESSOR_TIMEOUT_SECONDS,
            max_receive_count: 5,
            message_retention_seconds: FOUR_DAYS,
            dlq_retention_seconds: FOURTEEN_DAYS,
            batch_size: 10,
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings of one work queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// [`Queue::name`].
    pub name: &'static str,
    /// The name of the function consuming the queue ([`Queue::consumer`]).
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

const FOUR_DAYS: u32 = 4 * 24 * 3600;
const FOURTEEN_DAYS: u32 = 14 * 24 * 3600;

/// The three work queues.
pub fn queues() -> Vec<QueueSettings> {
    Queue::ALL.into_iter().map(Queue::settings).collect()
}

/// Where a rule delivers matching events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    /// One of the work queues.
    Queue(Queue),
    /// The saga state machine ([`SAGA_NAME`]); it receives the event's `detail` (the
    /// platform's event record) as its input.
    StateMachine(&'static str),
}

/// An EventBridge rule on the platform's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    use RuleTarget::StateMachine;
    let queue = RuleTarget::Queue;
    vec![
        RuleSpec {
            name: "start-saga",
            description: "A new order starts the order saga",
            source: EVENT_SOURCE,
            event_types: vec!["order.created"],
            targets: vec![StateMachine(SAGA_NAME)],
        },
        RuleSpec {
            name: "order-created",
            description: "New orders are announced to webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.created"],
            targets: vec![queue(Queue::Webhook)],
        },
        RuleSpec {
            name: "order-confirmed",
            description: "Confirmed orders get an email, a receipt and webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.confirmed"],
            targets: vec![
                queue(Queue::Email),
                queue(Queue::Receipt),
                queue(Queue::Webhook),
            ],
        },
        RuleSpec {
            name: "order-failed",
            description: "Failed orders get an email and webhooks",
            source: EVENT_SOURCE,
            event_types: vec!["order.failed"],
            targets: vec![queue(Queue::Email), queue(Queue::Webhook)],
        },
        RuleSpec {
            name: "ingested",
            description: "Events from outside systems reach the webhooks registered for them",
            source: INGESTED_EVENT_SOURCE,
            event_types: vec![],
            targets: vec![queue(Queue::Webhook)],
        },
    ]
}
