//! One log line per request: `finished`, with its request id, method, path, status, latency,
//! and the user, order and trace the request turned out to concern.
//!
//! What is known when a request starts (request id, method, path) and what is learnt while
//! serving it (the user from the token, the order from the path, the trace from the headers)
//! are kept in a request-scoped [`RequestFacts`], a task-local, not in a tracing span.
//!
//! In the ECS task's JSON format the API writes the `finished` line itself, a line serialised by
//! serde, and every other line logged while serving a request carries the request as `span`
//! (read from the task-local by the JSON layer). A thread that has called [`on_worker_park`]
//! (the API binary's runtime workers, as they go idle) keeps its `finished` lines until it parks
//! again, its next other line, or 32 KiB of them, and writes them in one `write`: a system call per
//! request was a point at which the kernel switched to the load's own woken threads, and the
//! batches made `/health` 4% faster with stdout discarded and 16% with it a pipe, as a
//! container's is (BENCHMARKS.md, "API: log lines written in batches"). A tracing span per request,
//! entered on every poll, and the line formatted through tracing's field visitors, cost a GET a
//! sixth of its throughput and `/health` a third (BENCHMARKS.md, "API"). In the text format of
//! `cargo xtask dev` the request is a tracing span and `finished` a tracing event, as a reader of
//! a terminal expects them.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

/// The target of the `finished` lines, as `RUST_LOG` names it.
const TARGET: &str = "eventforge_api::request_log";

/// Writes whole JSON lines; set once, by [`try_init_json_lines`].
type LineWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

static JSON_LINES: OnceLock<LineWriter> = OnceLock::new();

/// How many bytes of `finished` lines a batching thread keeps before it writes them.
const BATCH_BYTES: usize = 32 * 1024;

/// A thread's lines not yet written: written when the thread parks, logs another line, fills
/// [`BATCH_BYTES`], or ends.
struct Waiting {
    lines: Vec<u8>,
    /// Whether `finished` lines wait at all: only once the thread has parked as a worker.
    batching: bool,
}

impl Waiting {
    fn write_out(&mut self) {
        if let Some(write) = JSON_LINES.get()
            && !self.lines.is_empty()
        {
            write(&self.lines);
        }
        self.lines.clear();
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.write_out();
    }
}

thread_local! {
    static WAITING: RefCell<Waiting> = const {
        RefCell::new(Waiting { lines: Vec::new(), batching: false })
    };
}

/// The runtime's `on_thread_park` hook in the API binary: writes this worker's waiting lines,
/// and from now on keeps its `finished` lines until its next park. A thread that never parks
/// as a worker (a test's, a blocking one's) writes each line as it is logged.
pub fn on_worker_park() {
    let _ = WAITING.try_with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        waiting.batching = true;
        waiting.write_out();
    });
}

/// Appends `serialise`'s line to this thread's waiting lines and writes them, unless
/// `may_wait` and the thread batches and the batch is not yet full. A thread's lines are written
/// in the order they were logged.
fn append_line(serialise: impl Fn(&mut Vec<u8>) -> bool, may_wait: bool) {
    let appended = WAITING.try_with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        let start = waiting.lines.len();
        if !serialise(&mut waiting.lines) {
            waiting.lines.truncate(start);
        }
        if !(may_wait && waiting.batching && waiting.lines.len() < BATCH_BYTES) {
            waiting.write_out();
        }
    });
    if appended.is_err()
        && let Some(write) = JSON_LINES.get()
    {
        // The thread is ending and its waiting lines are gone: the line is written on its own.
        let mut line = Vec::new();
        if serialise(&mut line) {
            write(&line);
        }
    }
}

/// The JSON layer's writer: every line it logs goes out at once, after the `finished` lines
/// waiting on its thread.
struct InOrder;

impl std::io::Write for InOrder {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        append_line(
            |lines| {
                lines.extend_from_slice(bytes);
                true
            },
            false,
        );
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for InOrder {
    type Writer = Self;

    fn make_writer(&self) -> Self::Writer {
        Self
    }
}

/// Installs the JSON log lines of the ECS task (`EVENTFORGE_LOG_FORMAT=json`) as the process's
/// logging, written to `writer` and filtered by `filter`. The format is tracing-subscriber's JSON
/// format (`timestamp`, `level`, `fields`, `target`, and the request as `span`), written by
/// `json-subscriber`, which keeps each span's fields as ready-made JSON: tracing-subscriber's
/// own formatter parsed them back for every line and wrote each value through a UTF-8 check.
/// Fails when the process already has a subscriber.
pub fn try_init_json_lines<W>(writer: W, filter: EnvFilter) -> Result<(), TryInitError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let mut layer = json_subscriber::JsonLayer::new(InOrder);
    layer.with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime);
    layer.with_level("level");
    layer.with_target("target");
    layer.with_event("fields");
    layer.add_dynamic_field("span", |_, _| {
        FACTS.try_with(|facts| facts.identity.clone()).ok()
    });
    tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init()?;
    let _ = JSON_LINES.set(Box::new(move |line| {
        // A line that cannot be written has nowhere to be reported: logging goes on.
        let _ = writer.make_writer().write_all(line);
    }));
    Ok(())
}

/// Installs the process's logging: `RUST_LOG`'s filter (default `info`), lines to `writer` as
/// [`try_init_json_lines`] or as text. The ECS task and `cargo xtask dev` both log through
/// this. A second call keeps the first subscriber.
pub fn init_logs<W>(json: bool, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        let _ = try_init_json_lines(writer, filter);
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init();
    }
}

/// What a request is, known when it starts: its log lines carry it as `span`.
#[derive(Debug, Clone, Serialize)]
struct RequestIdentity {
    method: String,
    /// What the JSON format has always called the request's span.
    name: &'static str,
    path: String,
    request_id: String,
}

/// What the serving code learns about a request that its log line reports.
#[derive(Debug)]
pub struct RequestFacts {
    identity: RequestIdentity,
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

/// The middleware: serves the request with its facts, then logs `finished`.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let identity = RequestIdentity {
        method: request.method().to_string(),
        name: "request",
        path: request.uri().path().to_owned(),
        request_id: request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
            .to_owned(),
    };
    let facts = Arc::new(RequestFacts {
        identity,
        user_id: OnceLock::new(),
        order_id: OnceLock::new(),
        trace_id: OnceLock::new(),
    });
    let serving = FACTS.scope(facts.clone(), next.run(request));
    if JSON_LINES.get().is_none() {
        let identity = &facts.identity;
        let span = tracing::info_span!(
            "request",
            request_id = identity.request_id,
            method = identity.method,
            path = identity.path,
        );
        let response = serving.instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                target: TARGET,
                status = response.status().as_u16(),
                latency_ms = latency_ms(started),
                user_id = or_dash(&facts.user_id),
                order_id = or_dash(&facts.order_id),
                trace_id = or_dash(&facts.trace_id),
                "finished"
            );
        });
        return response;
    }
    let response = serving.await;
    if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        write_finished_line(&FinishedLine {
            fields: Finished {
                latency_ms: latency_ms(started),
                message: "finished",
                order_id: or_dash(&facts.order_id),
                status: response.status().as_u16(),
                trace_id: or_dash(&facts.trace_id),
                user_id: or_dash(&facts.user_id),
            },
            level: "INFO",
            span: &facts.identity,
            target: TARGET,
            timestamp: Timestamp(OffsetDateTime::now_utc()),
        });
    }
    response
}

/// The `finished` line, its keys in the order the JSON layer writes them (sorted).
#[derive(Serialize)]
struct FinishedLine<'a> {
    fields: Finished<'a>,
    level: &'static str,
    span: &'a RequestIdentity,
    target: &'static str,
    timestamp: Timestamp,
}

#[derive(Serialize)]
struct Finished<'a> {
    latency_ms: f64,
    message: &'static str,
    order_id: &'a str,
    status: u16,
    trace_id: &'a str,
    user_id: &'a str,
}

/// A UTC time as the JSON layer's timer writes it: `2026-12-07T02:30:16.198801Z`.
struct Timestamp(OffsetDateTime);

const TIMESTAMP: &[BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self
            .0
            .format(TIMESTAMP)
            .map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

/// Appends the `finished` line to this thread's waiting lines.
fn write_finished_line(line: &FinishedLine) {
    append_line(
        |lines| {
            let written = serde_json::to_writer(&mut *lines, line).is_ok();
            lines.push(b'\n');
            written
        },
        true,
    );
}

fn latency_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn or_dash(fact: &OnceLock<String>) -> &str {
    fact.get().map_or("-", String::as_str)
}
