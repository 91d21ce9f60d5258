//! Observability: alarms on every dead-letter queue, on failed saga executions and on failed
//! webhook deliveries (a metric filter over the webhook processor's JSON logs), all notifying one
//! SNS topic; and a dashboard of the same signals.
//!
//! Nothing here watches the API: its alarms and dashboard live in the api stack, so that
//! `teardown-ecs` (which deletes the api stack) leaves the queues, DLQs and saga watched.

use serde_json::json;

use typed_cloudformation::generated::cloudwatch::alarm;
use typed_cloudformation::generated::logs::metric_filter;
use typed_cloudformation::generated::{cloudwatch, logs, sns};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::{Accepted, ConditionExpr, Parameter, ResourceOptions, Stack};
use typed_cloudformation::synth::App;
use typed_cloudformation::value::{JsonText, Pseudo, Value};

use eventforge_topology::alarms::{
    ALARM_PERIOD_SECONDS, WEBHOOK_FAILURES_PER_PERIOD, WEBHOOK_PROCESSOR,
};

use super::{Built, Config, functions, messaging, workflow};

pub struct Watches<'a> {
    pub functions: &'a functions::Outputs,
    pub messaging: &'a messaging::Outputs,
    pub workflow: &'a workflow::Outputs,
}

pub struct Outputs {
    pub topic: Handle<sns::Topic>,
}

/// The CloudWatch Logs filter matching the webhook processor's log line for a failed delivery:
/// its JSON logs put the event's fields under `fields`, and a failed delivery is logged with
/// `outcome = "webhook.failed"` (see `eventforge_application::webhook`).
pub const WEBHOOK_FAILED_FILTER: &str = r#"{ $.fields.outcome = "webhook.failed" }"#;
/// The metric the filter counts, in the stage's namespace (`EventForge/<prefix>`).
pub const WEBHOOK_FAILURES_METRIC: &str = "WebhookDeliveryFailures";

/// How an alarm aggregates its metric over each period.
pub(super) enum Statistic {
    /// `Sum`, `Maximum`, ...
    Simple(&'static str),
    /// A percentile such as `p99` (CloudFormation's `ExtendedStatistic`).
    Percentile(&'static str),
}

/// One alarm: `metric` of `namespace` (with one dimension, for AWS metrics), aggregated over
/// five-minute periods, at or above `threshold` for `periods` periods in a row.
pub(super) struct AlarmSpec {
    pub id: String,
    pub description: String,
    pub namespace: String,
    pub metric: &'static str,
    pub statistic: Statistic,
    pub dimension: Option<(&'static str, Value<String>)>,
    pub threshold: f64,
    pub periods: u32,
}

pub(super) fn add_alarm(stack: &mut Stack, topic: &Handle<sns::Topic>, spec: AlarmSpec) {
    let mut alarm = cloudwatch::Alarm::new()
        .alarm_description(spec.description)
        .namespace(spec.namespace)
        .metric_name(spec.metric);
    if let Some((name, value)) = spec.dimension {
        alarm = alarm.dimensions(vec![alarm::Dimension::new(name, value)]);
    }
    let alarm = match spec.statistic {
        Statistic::Simple(statistic) => alarm.statistic(statistic),
        Statistic::Percentile(percentile) => alarm.extended_statistic(percentile),
    };
    stack.add(
        &spec.id,
        alarm
            .period(ALARM_PERIOD_SECONDS)
            .evaluation_periods(spec.periods)
            .threshold(spec.threshold)
            .comparison_operator("GreaterThanOrEqualToThreshold")
            // No data means no messages or no executions: healthy.
            .treat_missing_data("notBreaching")
            .alarm_actions(vec![topic.reference()])
            .ok_actions(vec![topic.reference()]),
    );
}

/// The `index`th metric widget of a dashboard: three 8-wide widgets per row of the 24-column
/// grid, five-minute periods like the alarms.
pub(super) fn metric_widget(
    index: u32,
    region: &str,
    title: &str,
    metrics: serde_json::Value,
    stat: &str,
) -> serde_json::Value {
    json!({
        "type": "metric", "x": index % 3 * 8, "y": index / 3 * 6, "width": 8, "height": 6,
        "properties": { "title": title, "region": region, "stat": stat, "period": ALARM_PERIOD_SECONDS, "metrics": metrics },
    })
}

pub fn stack(app: &App, config: &Config, watches: &Watches<'_>) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "observability",
        "EventForge observability: alarms and dashboard",
    );
    let email = stack.parameter(
        "AlarmEmail",
        Parameter::string("Email address that receives alarm notifications (empty: none)")
            .with_default(""),
    );
    let has_email = stack.condition(
        "HasAlarmEmail",
        !ConditionExpr::equals(email.value(), Value::from(String::new())),
    );
    let topic = stack.add_with(
        "AlarmTopic",
        sns::Topic::new().display_name(format!("{} alarms", config.prefix())),
        ResourceOptions::default().accept(&[Accepted {
            check: "CKV_AWS_26",
            reason: "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed \
                     aws/sns key (its policy cannot admit cloudwatch.amazonaws.com), so every \
                     alarm would be dropped without a word. The messages carry an alarm's name \
                     and metric, no order data.",
        }]),
    );
    stack.add_with(
        "AlarmEmailSubscription",
        sns::Subscription::new("email", topic.reference()).endpoint(email.value()),
        ResourceOptions::default().when(&has_email),
    );

    for queue in &watches.messaging.queues {
        add_alarm(
            &mut stack,
            &topic,
            AlarmSpec {
                id: format!(
                    "{}DeadLetterAlarm",
                    typed_cloudformation::naming::upper_camel(queue.name)
                ),
                description: format!(
                    "Messages in the {} dead-letter queue: a processor gave up",
                    queue.name
                ),
                namespace: "AWS/SQS".to_owned(),
                metric: "ApproximateNumberOfMessagesVisible",
                statistic: Statistic::Simple("Maximum"),
                dimension: Some(("QueueName", queue.dlq_name())),
                threshold: 1.0,
                periods: 1,
            },
        );
    }
    let saga = watches.workflow.state_machine.reference();
    add_alarm(
        &mut stack,
        &topic,
        AlarmSpec {
            id: "SagaFailedAlarm".to_owned(),
            description: "Order saga executions failed (a compensation could not complete)"
                .to_owned(),
            namespace: "AWS/States".to_owned(),
            metric: "ExecutionsFailed",
            statistic: Statistic::Simple("Sum"),
            dimension: Some(("StateMachineArn", saga.clone())),
            threshold: 1.0,
            periods: 1,
        },
    );
    let namespace = format!("EventForge/{}", config.prefix());
    if let Some(log_group) = watches.functions.log_groups.get(WEBHOOK_PROCESSOR.name()) {
        stack.add(
            "WebhookFailuresMetricFilter",
            logs::MetricFilter::new(
                WEBHOOK_FAILED_FILTER,
                log_group.reference(),
                vec![
                    metric_filter::MetricTransformation::new(
                        WEBHOOK_FAILURES_METRIC,
                        namespace.clone(),
                        "1",
                    )
                    .default_value(0.0),
                ],
            ),
        );
    }
    add_alarm(
        &mut stack,
        &topic,
        AlarmSpec {
            id: "WebhookFailuresAlarm".to_owned(),
            description: format!(
                "Webhook deliveries failed after their retries ({WEBHOOK_FAILURES_PER_PERIOD} or more in five minutes)"
            ),
            namespace: namespace.clone(),
            metric: WEBHOOK_FAILURES_METRIC,
            statistic: Statistic::Simple("Sum"),
            dimension: None,
            threshold: f64::from(WEBHOOK_FAILURES_PER_PERIOD),
            periods: 1,
        },
    );

    let mut body = JsonText::new();
    let region = body.value(Pseudo::Region.value());
    let dlq_metrics: Vec<_> = watches
        .messaging
        .queues
        .iter()
        .map(|queue| {
            json!([
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                body.value(queue.dlq_name())
            ])
        })
        .collect();
    let saga_arn = body.value(saga);
    let dashboard = json!({
        "widgets": [
            metric_widget(0, &region, "Dead-letter queues", json!(dlq_metrics), "Maximum"),
            metric_widget(1, &region, "Order saga", json!([
                ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", saga_arn],
                ["AWS/States", "ExecutionsFailed", "StateMachineArn", saga_arn],
            ]), "Sum"),
            metric_widget(2, &region, "Failed webhook deliveries", json!([
                [namespace, WEBHOOK_FAILURES_METRIC],
            ]), "Sum"),
        ],
    });
    stack.add(
        "Dashboard",
        cloudwatch::Dashboard::new(body.render(&dashboard)).dashboard_name(config.prefix()),
    );
    Built {
        stack,
        outputs: Outputs { topic },
    }
}
