//! Messaging: the custom event bus, the three work queues with their dead-letter queues, and the
//! rules that fan order events out to them, built from [`eventforge_topology::queues`] and
//! [`eventforge_topology::rules`], which the local runtime reads too.

use std::collections::BTreeMap;

use serde_json::json;

use typed_cloudformation::generated::{events, sqs};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::{Accepted, ResourceOptions};
use typed_cloudformation::synth::App;
use typed_cloudformation::value::Value;

use super::components::{Bus, QueueWithDlq};
use eventforge_topology::{Queue, RuleTarget, queues, rules};

use super::{Built, Config};

pub struct Outputs {
    pub bus: Bus,
    pub queues: Vec<QueueWithDlq>,
}

impl Outputs {
    /// The resources of `queue`.
    pub fn queue(&self, queue: Queue) -> Option<&QueueWithDlq> {
        self.queues.iter().find(|built| built.name == queue.name())
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
                RuleTarget::Queue(queue) => queues.iter().find(|built| built.name == queue.name()),
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
                senders.entry(name.name()).or_default().push(handle.arn());
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
