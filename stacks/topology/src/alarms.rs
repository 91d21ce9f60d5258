//! The thresholds of the alarms: CloudWatch's on AWS (the observability stack), and the warnings
//! `cargo xtask dev` prints locally (`eventforge-traces`), from the same constants.

use crate::Function;

/// The API's p99 response time, in seconds, above which users notice.
pub const API_P99_SECONDS: f64 = 1.0;
/// 5xx responses within one period that raise the API's error alarm.
pub const API_5XX_PER_PERIOD: u32 = 5;
/// Every alarm's period.
pub const ALARM_PERIOD_SECONDS: u32 = 300;
/// Failed webhook deliveries (after their retries) within one period that raise the alarm.
pub const WEBHOOK_FAILURES_PER_PERIOD: u32 = 3;
/// The function whose logs say when a webhook delivery failed.
pub const WEBHOOK_PROCESSOR: Function = Function::WebhookProcessor;
