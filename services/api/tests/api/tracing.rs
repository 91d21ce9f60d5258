//! One trace per order: the request's trace reaches the events it writes.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::common::{TestApp, token};

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn order_request(extra: Option<(&str, &str)>) -> Request<Body> {
    let mut request = Request::post("/api/orders")
        .header(header::AUTHORIZATION, format!("Bearer {}", token("alice")))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((name, value)) = extra {
        request = request.header(name, value);
    }
    request
        .body(Body::from(
            json!({"items": [{"sku": "KEYBOARD-01", "quantity": 1}]}).to_string(),
        ))
        .expect("request")
}

fn parts(traceparent: &str) -> (String, String) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    (fields[1].to_owned(), fields[2].to_owned())
}

async fn created_event_trace(app: &TestApp, order_id: &str) -> String {
    let history = app
        .get(&format!("/api/orders/{order_id}"), &token("alice"))
        .await
        .json["history"]
        .clone();
    history[0]["trace"]
        .as_str()
        .expect("order.created names its cause")
        .to_owned()
}

#[tokio::test]
async fn an_order_continues_the_callers_trace_in_a_span_of_its_own() {
    let app = TestApp::new().await;
    let reply = app.send(order_request(Some(("traceparent", CALLER)))).await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let answered = reply.headers["traceparent"].to_str().expect("ascii");
    let (trace, span) = parts(answered);
    assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        span, "00f067aa0ba902b7",
        "the API's own span, child of the caller's"
    );
    let recorded = created_event_trace(&app, reply.json["id"].as_str().expect("id")).await;
    assert_eq!(
        recorded, answered,
        "order.created was caused by the request's span"
    );
}

#[tokio::test]
async fn a_load_balancers_xray_header_is_continued_too() {
    let app = TestApp::new().await;
    let reply = app
        .send(order_request(Some((
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        ))))
        .await;
    let (trace, _) = parts(reply.headers["traceparent"].to_str().expect("ascii"));
    assert_eq!(trace, "5759e988bd862e3fe1be46a994272793");
}

#[tokio::test]
async fn without_a_caller_trace_each_order_starts_its_own() {
    let app = TestApp::new().await;
    let first = app.send(order_request(None)).await;
    let second = app
        .send(order_request(Some(("traceparent", "not a trace"))))
        .await;
    assert_eq!(
        second.status,
        StatusCode::CREATED,
        "a bad header never fails a request"
    );
    let (first_trace, _) = parts(first.headers["traceparent"].to_str().expect("ascii"));
    let (second_trace, _) = parts(second.headers["traceparent"].to_str().expect("ascii"));
    assert_ne!(first_trace, second_trace);
    let recorded = created_event_trace(&app, first.json["id"].as_str().expect("id")).await;
    assert_eq!(parts(&recorded).0, first_trace);
}

#[tokio::test]
async fn under_dev_an_orders_trace_holds_the_request_that_placed_it() {
    let app = TestApp::dev().await;
    let placed = app.send(order_request(Some(("traceparent", CALLER)))).await;
    let id = placed.json["id"].as_str().expect("id").to_owned();

    // The request span is kept in the background, after the response.
    let mut spans = serde_json::Value::Null;
    for _ in 0..100 {
        let reply = app
            .get(&format!("/api/orders/{id}/trace"), &token("alice"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        if !reply.json["spans"].as_array().expect("spans").is_empty() {
            spans = reply.json.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(spans["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let request = &spans["spans"][0];
    assert_eq!(request["name"], "POST /api/orders");
    assert_eq!(request["kind"], "request");
    assert_eq!(request["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(request["error"], serde_json::Value::Null);
    let (_, answered_span) = parts(placed.headers["traceparent"].to_str().expect("ascii"));
    assert_eq!(request["span_id"], answered_span.as_str());
}

#[tokio::test]
async fn another_users_trace_is_not_found_and_production_serves_no_traces() {
    let app = TestApp::dev().await;
    let placed = app.send(order_request(None)).await;
    let id = placed.json["id"].as_str().expect("id");
    let reply = app
        .get(&format!("/api/orders/{id}/trace"), &token("mallory"))
        .await;
    reply.problem(StatusCode::NOT_FOUND);

    let production = TestApp::new().await;
    let placed = production.send(order_request(None)).await;
    let id = placed.json["id"].as_str().expect("id");
    let reply = production
        .get(&format!("/api/orders/{id}/trace"), &token("alice"))
        .await;
    reply.problem(StatusCode::NOT_FOUND);
}

std::thread_local! {
    /// What the server logged on this thread while a test listens (`None` when none does).
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// The log writer: appends to the listening test's buffer. A `#[tokio::test]` serves its
/// requests on its own thread, so each test hears only its own requests.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with_borrow_mut(|captured| {
            if let Some(captured) = captured {
                captured.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Makes the server log as the ECS task does (JSON lines, each naming its request as `span`),
/// and starts capturing what this thread writes. The subscriber is the process's global one,
/// installed once: a thread's own subscriber (`set_default`) loses events to tracing's cache of
/// which call sites are off, when tests on other threads meet them first.
fn listen() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        eventforge_api::request_log::try_init_json_lines(
            || ThreadCapture,
            tracing_subscriber::EnvFilter::new("info"),
        )
        .expect("the test process's only subscriber");
    });
    CAPTURED.set(Some(Vec::new()));
}

/// The lines this thread has written since [`listen`] or the last call.
fn heard() -> Vec<serde_json::Value> {
    let captured = CAPTURED.with_borrow_mut(|captured| captured.replace(Vec::new()));
    let text = String::from_utf8(captured.unwrap_or_default()).expect("utf-8");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect()
}

/// Sends `request` with the server logging as the ECS task does; returns the reply and every
/// line it logged.
async fn logged(
    app: &TestApp,
    request: Request<Body>,
) -> (crate::common::Reply, Vec<serde_json::Value>) {
    listen();
    let reply = app.send(request).await;
    (reply, heard())
}

/// A request the API refuses (no token), logged as `request_id`.
fn refused(request_id: &str) -> Request<Body> {
    Request::get("/api/orders")
        .header("x-request-id", request_id)
        .body(Body::empty())
        .expect("request")
}

/// A signed event for `/webhooks/ingest`, whose handler logs a line of its own.
fn ingested(app: &TestApp, request_id: &str) -> Request<Body> {
    let body =
        serde_json::json!({"type": "shipment.dispatched", "user_id": "nobody", "detail": {}})
            .to_string();
    let mut request = crate::ingest::signed(
        &body,
        eventforge_core::Clock::now(&*app.clock).unix_timestamp(),
        crate::common::INGEST_SECRET,
    );
    request
        .headers_mut()
        .insert("x-request-id", request_id.parse().expect("header"));
    request
}

fn request_ids(lines: &[serde_json::Value]) -> Vec<(&str, &str)> {
    lines
        .iter()
        .map(|line| {
            (
                line["fields"]["message"].as_str().unwrap_or("?"),
                line["span"]["request_id"].as_str().unwrap_or("?"),
            )
        })
        .collect()
}

fn finished(lines: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    lines
        .iter()
        .filter(|line| line["fields"]["message"] == "finished")
        .collect()
}

#[tokio::test]
async fn each_request_logs_one_line_naming_its_user_order_trace_status_and_latency() {
    let app = TestApp::new().await;
    let created = app.send(order_request(None)).await;
    let order_id = created.json["id"].as_str().expect("id").to_owned();
    let (reply, lines) = logged(
        &app,
        Request::get(format!("/api/orders/{order_id}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", token("alice")))
            .header("x-request-id", "req-42")
            .header("traceparent", CALLER)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let finished = finished(&lines);
    assert_eq!(finished.len(), 1, "one line per request: {lines:?}");
    let line = finished[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "eventforge_api::request_log");
    let logged_at = line["timestamp"].as_str().expect("timestamp");
    time::OffsetDateTime::parse(logged_at, &time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 timestamp");
    assert_eq!(line["fields"]["status"], 200);
    assert_eq!(line["fields"]["order_id"], order_id.as_str());
    assert_eq!(line["fields"]["user_id"], created.json["user_id"]);
    assert_eq!(
        line["fields"]["trace_id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(line["fields"]["latency_ms"].as_f64().expect("latency") >= 0.0);
    assert_eq!(line["span"]["request_id"], "req-42");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["path"], format!("/api/orders/{order_id}"));
    assert!(
        line.get("spans").is_none(),
        "the request's span is written once, not also as a list of one: {line}"
    );
}

#[tokio::test]
async fn what_a_rejected_request_never_learnt_is_logged_as_a_dash() {
    let app = TestApp::new().await;
    let (reply, lines) = logged(
        &app,
        Request::get("/api/orders")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let finished = finished(&lines);
    assert_eq!(finished.len(), 1, "one line per request: {lines:?}");
    assert_eq!(finished[0]["fields"]["status"], 401);
    assert_eq!(finished[0]["fields"]["user_id"], "-");
    assert_eq!(finished[0]["fields"]["order_id"], "-");
}

#[tokio::test]
async fn a_line_logged_while_serving_a_request_names_that_request() {
    let app = TestApp::new().await;
    let (reply, lines) = logged(&app, ingested(&app, "req-ingest")).await;

    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.json);
    let ingested = lines
        .iter()
        .find(|line| line["fields"]["message"] == "ingested an event")
        .unwrap_or_else(|| panic!("the handler's own line: {lines:?}"));
    assert_eq!(ingested["span"]["request_id"], "req-ingest");
    assert_eq!(ingested["span"]["path"], "/webhooks/ingest");
    assert_eq!(ingested["span"]["method"], "POST");
    assert_eq!(finished(&lines)[0]["span"], ingested["span"]);
}

#[tokio::test]
async fn a_worker_that_went_idle_keeps_its_finished_lines_until_it_next_goes_idle() {
    let app = TestApp::new().await;
    listen();
    // What the API binary's runtime calls as a worker parks.
    eventforge_api::request_log::on_worker_park();

    app.send(refused("req-1")).await;
    app.send(refused("req-2")).await;
    assert_eq!(
        heard(),
        Vec::<serde_json::Value>::new(),
        "nothing written yet"
    );

    eventforge_api::request_log::on_worker_park();
    assert_eq!(
        request_ids(&heard()),
        [("finished", "req-1"), ("finished", "req-2")],
        "written at the park, in the order they were served"
    );
}

#[tokio::test]
async fn another_line_goes_out_at_once_after_the_finished_lines_waiting_before_it() {
    let app = TestApp::new().await;
    listen();
    eventforge_api::request_log::on_worker_park();
    app.send(refused("req-refused")).await;
    app.send(ingested(&app, "req-ingest")).await;

    assert_eq!(
        request_ids(&heard()),
        [
            ("finished", "req-refused"),
            ("ingested an event", "req-ingest")
        ],
        "the handler's line is written when logged, and the waiting line before it"
    );
    eventforge_api::request_log::on_worker_park();
    assert_eq!(request_ids(&heard()), [("finished", "req-ingest")]);
}
