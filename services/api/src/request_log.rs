//! One log line per request: `finished`, with its request id, method, path, status, latency,
//! and the user, order and trace the request turned out to concern.
//!
//! The request's span carries only what is known when it starts (request id, method, path), so
//! every line logged while serving it names the request. What is learnt later (the user from
//! the token, the order from the path, the trace from the headers) is noted in a request-scoped
//! [`RequestFacts`] and written as fields of the final line, not recorded into the span:
//! tracing-subscriber's JSON formatter re-parses and re-writes a span's fields on every
//! `Span::record`, which took a tenth of the server's time (BENCHMARKS.md, "API").

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::fmt::MakeWriter;

/// The JSON log lines of the ECS task (`EVENTFORGE_LOG_FORMAT=json`), written to `writer`: each
/// line carries its request's span (request id, method, path) as `span`. The format is
/// tracing-subscriber's JSON format, written by `json-subscriber`, which keeps each span's
/// fields as ready-made JSON: tracing-subscriber's own formatter parsed them back for every line
/// and wrote each value through a UTF-8 check, which together were a tenth of a
/// `GET /api/orders/{id}` (BENCHMARKS.md, "API"). Not also as `spans`, the list of every span the
/// line is in: the request's span is the only one.
pub fn json_lines<W>(writer: W) -> json_subscriber::fmt::SubscriberBuilder<W>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    json_subscriber::fmt()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer)
}

/// Installs the process's logging: `RUST_LOG`'s filter (default `info`), lines to `writer` as
/// [`json_lines`] or as text. The ECS task and `cargo xtask dev` both log through this. A
/// second call keeps the first subscriber.
pub fn init_logs<W>(json: bool, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = if json {
        json_lines(writer).with_env_filter(filter).try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init()
    };
}

/// What the serving code learns about a request that its log line reports.
#[derive(Debug, Default)]
pub struct RequestFacts {
    user_id: OnceLock<String>,
    order_id: OnceLock<String>,
    trace_id: OnceLock<String>,
}

tokio::task_local! {
    /// The facts of the request this task is serving; set by [`log_request`].
    static FACTS: Arc<RequestFacts>;
}

/// Runs `note` on the current request's facts; outside a request (a test calling a handler
/// directly) there is nothing to note.
fn note(note: impl FnOnce(&RequestFacts)) {
    let _ = FACTS.try_with(|facts| note(facts));
}

/// The request's user, once its bearer token is verified.
pub fn note_user(user_id: &str) {
    note(|facts| {
        let _ = facts.user_id.set(user_id.to_owned());
    });
}

/// The order the request concerns, so one order's requests can be found by its id.
pub fn note_order(order_id: impl ToString) {
    note(|facts| {
        let _ = facts.order_id.set(order_id.to_string());
    });
}

/// The trace the request belongs to.
pub fn note_trace(trace_id: String) {
    note(|facts| {
        let _ = facts.trace_id.set(trace_id);
    });
}

/// The middleware: serves the request inside its span and with its facts, then logs `finished`.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let facts = Arc::new(RequestFacts::default());
    let response = FACTS
        .scope(facts.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            user_id = or_dash(&facts.user_id),
            order_id = or_dash(&facts.order_id),
            trace_id = or_dash(&facts.trace_id),
            "finished"
        );
    });
    response
}

fn or_dash(fact: &OnceLock<String>) -> &str {
    fact.get().map_or("-", String::as_str)
}
