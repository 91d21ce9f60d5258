//! A [`FunctionHost`] that records a span for every saga step and every message a processor
//! handles, then passes the work on unchanged.
//!
//! The trace comes from the work itself: a step's input is the event record the saga started
//! from (with its `trace`), and a message's body is the EventBridge envelope whose `detail` is
//! the event record. Work without a trace is run and not recorded. A span that cannot be
//! stored is logged and dropped: tracing must never fail the work it watches.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use eventforge_core::TraceContext;
use eventforge_core::trace::{Span, SpanKind, SpanSink};
use eventforge_local::{FunctionError, FunctionHost, QueueMessage};
use serde_json::Value;
use time::OffsetDateTime;

pub struct TracingHost {
    inner: Arc<dyn FunctionHost>,
    spans: Arc<dyn SpanSink>,
}

impl TracingHost {
    pub fn new(inner: Arc<dyn FunctionHost>, spans: Arc<dyn SpanSink>) -> Self {
        Self { inner, spans }
    }

    async fn keep(&self, span: Span) {
        if let Err(error) = self.spans.record(&span).await {
            tracing::warn!(span = %span.name, trace_id = %span.trace_id, %error, "span not kept");
        }
    }
}

fn trace_of(record: &Value) -> Option<TraceContext> {
    record.get("trace")?.as_str()?.parse().ok()
}

fn order_of(record: &Value) -> &str {
    record
        .get("order_id")
        .and_then(Value::as_str)
        .unwrap_or("-")
}

/// The event record a message carries: the `detail` of its EventBridge envelope.
fn record_of_message(message: &QueueMessage) -> Option<Value> {
    let envelope: Value = serde_json::from_str(&message.body).ok()?;
    envelope.get("detail").cloned()
}

/// One log line per run of a function, with the ids that tie it to its order and trace
/// (as the Lambda's own JSON log line does on AWS).
fn log_run(function: &str, order_id: &str, span: Option<&Span>, error: Option<&str>) {
    let trace_id = span.map_or("-", |span| span.trace_id.as_str());
    let duration_ms = span.map_or(0.0, |span| span.duration_us as f64 / 1000.0);
    match error {
        None => tracing::info!(function, order_id, trace_id, duration_ms, "function ran"),
        Some(error) => {
            tracing::warn!(
                function,
                order_id,
                trace_id,
                duration_ms,
                error,
                "function failed"
            );
        }
    }
}

#[async_trait]
impl FunctionHost for TracingHost {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, FunctionError> {
        let cause = trace_of(&payload);
        let order_id = order_of(&payload).to_owned();
        let (started_at, clock) = (OffsetDateTime::now_utc(), Instant::now());
        let result = self.inner.invoke(function, payload).await;
        let error = result.as_ref().err().map(|e| e.error_type.clone());
        let span = cause.map(|cause| {
            Span::finished(
                &cause.child(),
                Some(&cause),
                function,
                SpanKind::Step,
                started_at,
                clock.elapsed(),
                error.clone(),
            )
        });
        log_run(function, &order_id, span.as_ref(), error.as_deref());
        if let Some(span) = span {
            self.keep(span).await;
        }
        result
    }

    async fn process_batch(
        &self,
        function: &str,
        batch: &[QueueMessage],
    ) -> Result<Vec<String>, FunctionError> {
        let (started_at, clock) = (OffsetDateTime::now_utc(), Instant::now());
        let result = self.inner.process_batch(function, batch).await;
        // The batch runs as one invocation, so each message's span is the batch's duration.
        let elapsed = clock.elapsed();
        for message in batch {
            let record = record_of_message(message).unwrap_or_default();
            let error = match &result {
                Err(error) => Some(error.error_type.clone()),
                Ok(failed) if failed.contains(&message.id) => Some("message failed".to_owned()),
                Ok(_) => None,
            };
            let span = trace_of(&record).map(|cause| {
                Span::finished(
                    &cause.child(),
                    Some(&cause),
                    function,
                    SpanKind::Consumer,
                    started_at,
                    elapsed,
                    error.clone(),
                )
            });
            log_run(function, order_of(&record), span.as_ref(), error.as_deref());
            if let Some(span) = span {
                self.keep(span).await;
            }
        }
        result
    }
}
