//! On AWS each request's span reaches X-Ray through the daemon beside the API: here the daemon
//! is a real UDP socket on 127.0.0.1 that the test reads.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eventforge_api::xray::XrayDaemon;
use serde_json::{Value, json};
use tokio::net::UdpSocket;

use crate::common::{TestApp, token};

async fn app_reporting_to_a_daemon() -> (TestApp, UdpSocket) {
    let daemon = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let address = daemon.local_addr().expect("address");
    let sink = XrayDaemon::connect(address, "eventforge-api")
        .await
        .expect("connect");
    let app = TestApp::configured(move |config, _| config.with_span_sink(Arc::new(sink))).await;
    (app, daemon)
}

async fn next_segment(daemon: &UdpSocket) -> Value {
    let mut buffer = vec![0u8; 64 * 1024];
    let length = tokio::time::timeout(Duration::from_secs(5), daemon.recv(&mut buffer))
        .await
        .expect("a segment within 5 s")
        .expect("receive");
    let text = std::str::from_utf8(&buffer[..length]).expect("utf-8");
    let (header, document) = text
        .split_once('\n')
        .expect("header line, then the segment");
    assert_eq!(
        serde_json::from_str::<Value>(header).expect("header"),
        json!({"format": "json", "version": 1})
    );
    serde_json::from_str(document).expect("segment JSON")
}

#[tokio::test]
async fn a_request_becomes_a_segment_in_the_callers_trace() {
    let (app, daemon) = app_reporting_to_a_daemon().await;
    let request = Request::post("/api/orders")
        .header(header::AUTHORIZATION, format!("Bearer {}", token("alice")))
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .body(Body::from(
            json!({"items": [{"sku": "KEYBOARD-01", "quantity": 1}]}).to_string(),
        ))
        .expect("request");
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let segment = next_segment(&daemon).await;
    assert_eq!(segment["name"], "eventforge-api");
    assert_eq!(segment["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(segment["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(segment["http"]["request"]["method"], "POST");
    assert_eq!(segment["http"]["request"]["url"], "/api/orders");
    assert!(segment.get("fault").is_none() && segment.get("error").is_none());
    let start = segment["start_time"].as_f64().expect("start");
    let end = segment["end_time"].as_f64().expect("end");
    assert!(
        end >= start && start > 1.7e9,
        "epoch seconds: {start}..{end}"
    );
    let answered = reply.headers["traceparent"].to_str().expect("ascii");
    assert!(
        answered.contains(segment["id"].as_str().expect("id")),
        "the segment is the API's span"
    );
}

#[tokio::test]
async fn a_client_error_is_an_error_segment_not_a_fault() {
    let (app, daemon) = app_reporting_to_a_daemon().await;
    let missing = eventforge_core::OrderId::generate();
    let reply = app
        .get(&format!("/api/orders/{missing}"), &token("alice"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let segment = next_segment(&daemon).await;
    assert_eq!(segment["http"]["request"]["url"], "/api/orders/{id}");
    assert_eq!(segment["http"]["response"]["status"], 404);
    assert_eq!(segment["error"], true);
    assert!(segment.get("fault").is_none());
    assert!(
        segment.get("parent_id").is_none(),
        "no caller trace: the API's segment is the root"
    );
}
