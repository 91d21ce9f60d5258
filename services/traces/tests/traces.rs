//! Local tracing, specified over a real span file and a real `Functions` host.

use std::sync::Arc;
use std::time::Duration;

use eventforge_core::TraceContext;
use eventforge_core::trace::{Span, SpanKind, SpanSink, SpanStore};
use eventforge_local::{FunctionError, FunctionHost, Functions, QueueMessage};
use eventforge_traces::{SqliteSpans, TracingHost};
use serde_json::{Value, json};
use time::OffsetDateTime;

fn spans_file() -> (tempfile::TempDir, Arc<SqliteSpans>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let spans = SqliteSpans::open(dir.path().join("traces.db")).expect("open");
    (dir, Arc::new(spans))
}

fn traced_host(spans: Arc<SqliteSpans>) -> TracingHost {
    let functions = Functions::new()
        .step("reserve-inventory", |input: Value| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(json!({ "reserved": input["order_id"] }))
        })
        .step("charge-payment", |_input: Value| async move {
            Err(FunctionError::new("PaymentDeclined", "over the limit"))
        })
        .consumer("email-processor", |batch: Vec<QueueMessage>| async move {
            Ok(batch
                .iter()
                .filter(|m| m.body.contains("bounce"))
                .map(|m| m.id.clone())
                .collect())
        });
    TracingHost::new(Arc::new(functions), spans)
}

fn message(id: &str, detail: Value) -> QueueMessage {
    QueueMessage {
        id: id.to_owned(),
        queue: "email".to_owned(),
        body: json!({ "detail-type": "order.confirmed", "detail": detail }).to_string(),
        receive_count: 1,
        sent_at_ms: 0,
    }
}

#[tokio::test]
async fn a_step_is_a_child_span_of_the_event_that_started_the_saga() {
    let (_dir, spans) = spans_file();
    let host = traced_host(Arc::clone(&spans));
    let cause = TraceContext::new_root(OffsetDateTime::now_utc());
    let input = json!({ "order_id": "o-1", "trace": cause.traceparent() });

    let output = host.invoke("reserve-inventory", input).await.expect("runs");
    let declined = host
        .invoke("charge-payment", json!({ "trace": cause.traceparent() }))
        .await;

    assert_eq!(
        output,
        json!({ "reserved": "o-1" }),
        "the work is passed through unchanged"
    );
    assert_eq!(
        declined.expect_err("declined").error_type,
        "PaymentDeclined"
    );
    let trace = spans.trace(&cause.trace_id()).await.expect("read");
    assert_eq!(trace.len(), 2);
    let reserve = trace
        .iter()
        .find(|s| s.name == "reserve-inventory")
        .expect("span");
    assert_eq!(reserve.kind, SpanKind::Step);
    assert_eq!(
        reserve.parent_span_id.as_deref(),
        Some(cause.span_id().as_str())
    );
    assert!(
        reserve.duration_us >= 5_000,
        "it lasted as long as the step"
    );
    assert_eq!(reserve.error, None);
    let charge = trace
        .iter()
        .find(|s| s.name == "charge-payment")
        .expect("span");
    assert_eq!(charge.error.as_deref(), Some("PaymentDeclined"));
}

#[tokio::test]
async fn each_message_of_a_batch_is_a_span_and_failed_ones_say_so() {
    let (_dir, spans) = spans_file();
    let host = traced_host(Arc::clone(&spans));
    let first = TraceContext::new_root(OffsetDateTime::now_utc());
    let second = TraceContext::new_root(OffsetDateTime::now_utc());
    let batch = [
        message("m-1", json!({ "trace": first.traceparent() })),
        message(
            "m-2",
            json!({ "trace": second.traceparent(), "note": "bounce" }),
        ),
        message("m-3", json!({ "no": "trace" })),
    ];

    let failed = host
        .process_batch("email-processor", &batch)
        .await
        .expect("batch");

    assert_eq!(failed, ["m-2"]);
    let ok = spans.trace(&first.trace_id()).await.expect("read");
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (ok[0].kind, ok[0].error.as_deref()),
        (SpanKind::Consumer, None)
    );
    let bad = spans.trace(&second.trace_id()).await.expect("read");
    assert_eq!(bad[0].error.as_deref(), Some("message failed"));
}

#[tokio::test]
async fn work_without_a_trace_runs_and_records_nothing() {
    let (dir, spans) = spans_file();
    let host = traced_host(Arc::clone(&spans));
    host.invoke(
        "reserve-inventory",
        json!({ "order_id": "o-2", "trace": "junk" }),
    )
    .await
    .expect("runs");
    host.invoke("reserve-inventory", json!({ "order_id": "o-3" }))
        .await
        .expect("runs");
    let file = rusqlite::Connection::open(dir.path().join("traces.db")).expect("open");
    let count: i64 = file
        .query_row("SELECT COUNT(*) FROM spans", [], |row| row.get(0))
        .expect("count");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn spans_survive_reopening_the_file_earliest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("traces.db");
    let root = TraceContext::new_root(OffsetDateTime::now_utc());
    let start = OffsetDateTime::now_utc();
    {
        let spans = SqliteSpans::open(&path).expect("open");
        for (offset, name) in [(2, "later"), (0, "first"), (1, "middle")] {
            let span = Span::finished(
                &root.child(),
                Some(&root),
                name,
                SpanKind::Step,
                start + Duration::from_millis(offset),
                Duration::from_micros(1_500),
                None,
            );
            spans.record(&span).await.expect("record");
        }
    }
    let reopened = SqliteSpans::open(&path).expect("reopen");
    let trace = reopened.trace(&root.trace_id()).await.expect("read");
    let names: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["first", "middle", "later"]);
    assert_eq!(trace[0].duration_us, 1_500);
    assert_eq!(trace[0].parent_span_id, Some(root.span_id()));
}
