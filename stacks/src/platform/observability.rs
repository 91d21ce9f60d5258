//! Observability: alarms on every dead-letter queue, on API 5xx responses and on failed saga
//! executions, all notifying one SNS topic; and a dashboard of the same signals.

use serde_json::json;

use crate::generated::cloudwatch::alarm;
use crate::generated::{cloudwatch, sns};
use crate::handle::Handle;
use crate::stack::{ConditionExpr, Parameter, ResourceOptions, Stack};
use crate::synth::App;
use crate::value::{JsonText, Pseudo, Value};

use super::{Built, Config, api, messaging, workflow};

pub struct Watches<'a> {
    pub messaging: &'a messaging::Outputs,
    pub workflow: &'a workflow::Outputs,
    pub api: &'a api::Outputs,
}

pub struct Outputs {
    pub topic: Handle<sns::Topic>,
}

/// The API's p99 response time, in seconds, above which users notice. `cargo xtask dev` warns
/// at the same thresholds as the alarms (through these constants).
pub const API_P99_SECONDS: f64 = 1.0;
/// 5xx responses within one period that raise the API's error alarm.
pub const API_5XX_PER_PERIOD: u32 = 5;
/// Every alarm's period.
pub const ALARM_PERIOD_SECONDS: u32 = 300;

/// How an alarm aggregates its metric over each period.
enum Statistic {
    /// `Sum`, `Maximum`, ...
    Simple(&'static str),
    /// A percentile such as `p99` (CloudFormation's `ExtendedStatistic`).
    Percentile(&'static str),
}

/// One alarm: `metric` of `namespace` with one dimension, aggregated over five-minute periods,
/// at or above `threshold` for `periods` periods in a row.
struct AlarmSpec {
    id: String,
    description: String,
    namespace: &'static str,
    metric: &'static str,
    statistic: Statistic,
    dimension: (&'static str, Value<String>),
    threshold: f64,
    periods: u32,
}

fn add_alarm(stack: &mut Stack, topic: &Handle<sns::Topic>, spec: AlarmSpec) {
    let alarm = cloudwatch::Alarm::new()
        .alarm_description(spec.description)
        .namespace(spec.namespace)
        .metric_name(spec.metric)
        .dimensions(vec![alarm::Dimension::new(
            spec.dimension.0,
            spec.dimension.1,
        )]);
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
    let topic = stack.add(
        "AlarmTopic",
        sns::Topic::new().display_name(format!("{} alarms", config.prefix())),
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
                id: format!("{}DeadLetterAlarm", crate::naming::upper_camel(queue.name)),
                description: format!(
                    "Messages in the {} dead-letter queue: a processor gave up",
                    queue.name
                ),
                namespace: "AWS/SQS",
                metric: "ApproximateNumberOfMessagesVisible",
                statistic: Statistic::Simple("Maximum"),
                dimension: ("QueueName", queue.dlq_name()),
                threshold: 1.0,
                periods: 1,
            },
        );
    }
    let load_balancer = watches.api.load_balancer.load_balancer_full_name();
    add_alarm(
        &mut stack,
        &topic,
        AlarmSpec {
            id: "Api5xxAlarm".to_owned(),
            description: "The API answered with 5xx responses".to_owned(),
            namespace: "AWS/ApplicationELB",
            metric: "HTTPCode_Target_5XX_Count",
            statistic: Statistic::Simple("Sum"),
            dimension: ("LoadBalancer", load_balancer.clone()),
            threshold: f64::from(API_5XX_PER_PERIOD),
            periods: 1,
        },
    );
    add_alarm(
        &mut stack,
        &topic,
        AlarmSpec {
            id: "ApiLatencyAlarm".to_owned(),
            description: format!(
                "The API's p99 response time stayed above {API_P99_SECONDS} s for 15 minutes"
            ),
            namespace: "AWS/ApplicationELB",
            metric: "TargetResponseTime",
            statistic: Statistic::Percentile("p99"),
            dimension: ("LoadBalancer", load_balancer.clone()),
            threshold: API_P99_SECONDS,
            // One slow period is a blip; three in a row is a trend worth a page.
            periods: 3,
        },
    );
    let saga = watches.workflow.state_machine.reference();
    add_alarm(
        &mut stack,
        &topic,
        AlarmSpec {
            id: "SagaFailedAlarm".to_owned(),
            description: "Order saga executions failed (a compensation could not complete)"
                .to_owned(),
            namespace: "AWS/States",
            metric: "ExecutionsFailed",
            statistic: Statistic::Simple("Sum"),
            dimension: ("StateMachineArn", saga.clone()),
            threshold: 1.0,
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
    let alb = body.value(load_balancer);
    let saga_arn = body.value(saga);
    // Three 8-wide widgets per row of the 24-column grid, in the order given.
    let widget = |index: u32, title: &str, metrics: serde_json::Value, stat: &str| {
        json!({
            "type": "metric", "x": index % 3 * 8, "y": index / 3 * 6, "width": 8, "height": 6,
            "properties": { "title": title, "region": region, "stat": stat, "period": 300, "metrics": metrics },
        })
    };
    let dashboard = json!({
        "widgets": [
            widget(0, "Dead-letter queues", json!(dlq_metrics), "Maximum"),
            widget(1, "API responses", json!([
                ["AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", "LoadBalancer", alb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb],
            ]), "Sum"),
            widget(3, "API p99 response time (s)", json!([
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb],
            ]), "p99"),
            widget(2, "Order saga", json!([
                ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", saga_arn],
                ["AWS/States", "ExecutionsFailed", "StateMachineArn", saga_arn],
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
