//! The API and webhook alarms of the observability stack, evaluated locally over the spans: the
//! same thresholds (shared constants with `stacks`), warned about in the `cargo xtask dev` log
//! instead of notifying an SNS topic. Webhook failures are counted per failed run of the webhook
//! processor (a batch with a failed delivery), where CloudWatch counts failed deliveries.
//!
//! Simplified on purpose: one sliding window of one alarm period, where CloudWatch evaluates
//! fixed periods (and the latency alarm three in a row).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventforge_core::trace::{Span, SpanKind, SpanSink, SpanStore, SpanStoreError};
use eventforge_topology::alarms::{
    ALARM_PERIOD_SECONDS, API_5XX_PER_PERIOD, API_P99_SECONDS, WEBHOOK_FAILURES_PER_PERIOD,
    WEBHOOK_PROCESSOR,
};
use time::OffsetDateTime;

/// An alarm entering or leaving its alarm state.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmChange {
    Raised { alarm: &'static str, reason: String },
    Cleared { alarm: &'static str },
}

const ERRORS: &str = "Api5xxAlarm";
const LATENCY: &str = "ApiLatencyAlarm";
const WEBHOOKS: &str = "WebhookFailuresAlarm";

struct Request {
    at: OffsetDateTime,
    duration_us: u64,
    server_error: bool,
}

/// The last alarm period of API requests and which alarms are raised.
#[derive(Default)]
pub struct Window {
    requests: VecDeque<Request>,
    /// When each failed webhook processor run started.
    webhook_failures: VecDeque<OffsetDateTime>,
    raised: Vec<&'static str>,
}

impl Window {
    /// Takes in one finished span; returns the alarms it raised or cleared.
    pub fn observe(&mut self, span: &Span) -> Vec<AlarmChange> {
        if span.kind == SpanKind::Consumer && span.name == WEBHOOK_PROCESSOR.name() {
            return self.observe_webhook_run(span);
        }
        if span.kind != SpanKind::Request {
            return Vec::new();
        }
        let server_error = span
            .error
            .as_deref()
            .and_then(|e| e.strip_prefix("HTTP "))
            .is_some_and(|code| code.starts_with('5'));
        self.requests.push_back(Request {
            at: span.started_at,
            duration_us: span.duration_us,
            server_error,
        });
        let period = Duration::from_secs(u64::from(ALARM_PERIOD_SECONDS));
        while self
            .requests
            .front()
            .is_some_and(|oldest| oldest.at + period <= span.started_at)
        {
            self.requests.pop_front();
        }
        let errors = self.requests.iter().filter(|r| r.server_error).count();
        let p99 = self.p99_seconds();
        let minutes = ALARM_PERIOD_SECONDS / 60;
        let mut changes = Vec::new();
        self.evaluate(
            ERRORS,
            errors >= API_5XX_PER_PERIOD as usize,
            format!("{errors} responses were 5xx in the last {minutes} minutes (alarm at {API_5XX_PER_PERIOD})"),
            &mut changes,
        );
        self.evaluate(
            LATENCY,
            p99 > API_P99_SECONDS,
            format!("p99 response time {p99:.3} s over the last {minutes} minutes (alarm above {API_P99_SECONDS} s)"),
            &mut changes,
        );
        changes
    }

    fn observe_webhook_run(&mut self, span: &Span) -> Vec<AlarmChange> {
        if span.error.is_some() {
            self.webhook_failures.push_back(span.started_at);
        }
        let period = Duration::from_secs(u64::from(ALARM_PERIOD_SECONDS));
        while self
            .webhook_failures
            .front()
            .is_some_and(|oldest| *oldest + period <= span.started_at)
        {
            self.webhook_failures.pop_front();
        }
        let failures = self.webhook_failures.len();
        let minutes = ALARM_PERIOD_SECONDS / 60;
        let mut changes = Vec::new();
        self.evaluate(
            WEBHOOKS,
            failures >= WEBHOOK_FAILURES_PER_PERIOD as usize,
            format!("{failures} webhook processor runs had failed deliveries in the last {minutes} minutes (alarm at {WEBHOOK_FAILURES_PER_PERIOD})"),
            &mut changes,
        );
        changes
    }

    /// Nearest-rank p99 of the window's durations.
    fn p99_seconds(&self) -> f64 {
        let mut durations: Vec<u64> = self.requests.iter().map(|r| r.duration_us).collect();
        durations.sort_unstable();
        let rank = (durations.len() * 99).div_ceil(100).max(1);
        durations
            .get(rank - 1)
            .map_or(0.0, |us| *us as f64 / 1_000_000.0)
    }

    fn evaluate(
        &mut self,
        alarm: &'static str,
        breaching: bool,
        reason: String,
        changes: &mut Vec<AlarmChange>,
    ) {
        let raised = self.raised.contains(&alarm);
        if breaching && !raised {
            self.raised.push(alarm);
            changes.push(AlarmChange::Raised { alarm, reason });
        } else if !breaching && raised {
            self.raised.retain(|a| *a != alarm);
            changes.push(AlarmChange::Cleared { alarm });
        }
    }
}

/// A [`SpanStore`] that keeps spans in `inner` and logs the API alarms' state changes.
pub struct AlarmWatch {
    inner: Arc<dyn SpanStore>,
    window: Mutex<Window>,
}

impl AlarmWatch {
    pub fn new(inner: Arc<dyn SpanStore>) -> Self {
        Self {
            inner,
            window: Mutex::new(Window::default()),
        }
    }
}

#[async_trait]
impl SpanSink for AlarmWatch {
    async fn record(&self, span: &Span) -> Result<(), SpanStoreError> {
        let changes = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .observe(span);
        for change in changes {
            match change {
                AlarmChange::Raised { alarm, reason } => {
                    tracing::warn!(alarm, "ALARM: {reason}");
                }
                AlarmChange::Cleared { alarm } => tracing::info!(alarm, "alarm back to OK"),
            }
        }
        self.inner.record(span).await
    }
}

#[async_trait]
impl SpanStore for AlarmWatch {
    async fn trace(&self, trace_id: &str) -> Result<Vec<Span>, SpanStoreError> {
        self.inner.trace(trace_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::TraceContext;

    fn request(at_seconds: i64, duration_ms: u64, status: u16) -> Span {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000 + at_seconds).expect("time");
        Span::finished(
            &TraceContext::new_root(start),
            None,
            "POST /api/orders",
            SpanKind::Request,
            start,
            Duration::from_millis(duration_ms),
            (status >= 400).then(|| format!("HTTP {status}")),
        )
    }

    fn raised(changes: &[AlarmChange]) -> Vec<&'static str> {
        changes
            .iter()
            .filter_map(|c| match c {
                AlarmChange::Raised { alarm, .. } => Some(*alarm),
                AlarmChange::Cleared { .. } => None,
            })
            .collect()
    }

    #[test]
    fn the_fifth_server_error_in_a_period_raises_the_error_alarm_once() {
        let mut window = Window::default();
        for second in 0..4 {
            assert!(window.observe(&request(second, 5, 500)).is_empty());
        }
        assert!(
            window.observe(&request(5, 5, 404)).is_empty(),
            "4xx is the client's"
        );
        assert_eq!(raised(&window.observe(&request(6, 5, 503))), [ERRORS]);
        assert!(
            window.observe(&request(7, 5, 500)).is_empty(),
            "already raised"
        );
    }

    #[test]
    fn errors_older_than_the_period_clear_the_alarm() {
        let mut window = Window::default();
        for second in 0..5 {
            window.observe(&request(second, 5, 500));
        }
        let later = window.observe(&request(i64::from(ALARM_PERIOD_SECONDS) + 1, 5, 200));
        assert_eq!(later, [AlarmChange::Cleared { alarm: ERRORS }]);
    }

    #[test]
    fn a_slow_p99_raises_the_latency_alarm_and_fast_traffic_clears_it() {
        let mut window = Window::default();
        for second in 0..99 {
            assert!(window.observe(&request(second, 20, 200)).is_empty());
        }
        // One slow request in a hundred is above the p99; two in a hundred and one are the p99.
        assert!(window.observe(&request(99, 1_500, 200)).is_empty());
        let changes = window.observe(&request(100, 1_500, 200));
        assert_eq!(raised(&changes), [LATENCY]);
        let mut cleared = Vec::new();
        for second in 101..250 {
            cleared.extend(window.observe(&request(second, 20, 200)));
        }
        assert_eq!(cleared, [AlarmChange::Cleared { alarm: LATENCY }]);
    }

    #[test]
    fn only_request_spans_count() {
        let mut window = Window::default();
        for second in 0..10 {
            let mut step = request(second, 5_000, 500);
            step.kind = SpanKind::Step;
            assert!(window.observe(&step).is_empty());
        }
    }

    fn webhook_run(at_seconds: i64, failed: bool) -> Span {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000 + at_seconds).expect("time");
        Span::finished(
            &TraceContext::new_root(start),
            None,
            WEBHOOK_PROCESSOR.name(),
            SpanKind::Consumer,
            start,
            Duration::from_millis(3),
            failed.then(|| "1 of 1 messages failed".to_owned()),
        )
    }

    #[test]
    fn failed_webhook_runs_at_the_threshold_raise_the_webhook_alarm_and_age_out() {
        let mut window = Window::default();
        let below = WEBHOOK_FAILURES_PER_PERIOD as i64 - 1;
        for second in 0..below {
            assert!(window.observe(&webhook_run(second, true)).is_empty());
        }
        assert!(
            window.observe(&webhook_run(below, false)).is_empty(),
            "a successful run is no failure"
        );
        assert_eq!(
            raised(&window.observe(&webhook_run(below + 1, true))),
            [WEBHOOKS]
        );
        let later = window.observe(&webhook_run(i64::from(ALARM_PERIOD_SECONDS) + 60, false));
        assert_eq!(later, [AlarmChange::Cleared { alarm: WEBHOOKS }]);
    }
}
