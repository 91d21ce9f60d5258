//! On AWS each request's span reaches X-Ray through OpenTelemetry: exported over OTLP/HTTP to
//! the ADOT collector beside the API. Here the collector is a real OTLP/HTTP receiver on
//! 127.0.0.1 that decodes what arrives with the OpenTelemetry protocol's own types.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use eventforge_api::otlp::OtlpExporter;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;

use crate::common::{TestApp, token};

/// A collector's OTLP/HTTP traces endpoint: every export request it receives, decoded.
async fn collector() -> (String, mpsc::UnboundedReceiver<ExportTraceServiceRequest>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sender = sender.clone();
            async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
                sender.send(request).expect("the test is listening");
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), receiver)
}

async fn app_exporting_to_a_collector() -> (
    TestApp,
    Arc<OtlpExporter>,
    mpsc::UnboundedReceiver<ExportTraceServiceRequest>,
) {
    let (endpoint, received) = collector().await;
    let exporter = Arc::new(OtlpExporter::new(&endpoint, "eventforge-api").expect("exporter"));
    let sink = Arc::clone(&exporter);
    let app = TestApp::configured(move |config, _| config.with_span_sink(sink)).await;
    (app, exporter, received)
}

/// The next span the collector receives, with the resource's `service.name`. The request's span
/// is recorded just after its response, so flushing is retried until it has been queued.
async fn next_span(
    exporter: &Arc<OtlpExporter>,
    received: &mut mpsc::UnboundedReceiver<ExportTraceServiceRequest>,
) -> (String, ProtoSpan) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let flushing = Arc::clone(exporter);
        tokio::task::spawn_blocking(move || flushing.flush())
            .await
            .expect("flush task")
            .expect("flush");
        if let Ok(request) = received.try_recv() {
            let resource_spans = &request.resource_spans[0];
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| string_attribute(&resource.attributes, "service.name"))
                .expect("service.name");
            let span = resource_spans.scope_spans[0].spans[0].clone();
            return (service, span);
        }
        assert!(Instant::now() < deadline, "no span within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|pair| pair.key == key)
        .and_then(|pair| pair.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(AnyValue::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(AnyValue::IntValue(number)) => Some(*number),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_exported_as_a_server_span_in_the_load_balancers_trace() {
    let (app, exporter, mut received) = app_exporting_to_a_collector().await;
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

    let (service, span) = next_span(&exporter, &mut received).await;
    assert_eq!(service, "eventforge-api");
    assert_eq!(span.name, "POST /api/orders");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        hex::encode(&span.trace_id),
        "5759e988bd862e3fe1be46a994272793",
        "the X-Ray root, as an OpenTelemetry trace id"
    );
    assert_eq!(hex::encode(&span.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(
        string_attribute(&span.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        string_attribute(&span.attributes, "http.route").as_deref(),
        Some("/api/orders")
    );
    assert_eq!(
        int_attribute(&span.attributes, "http.response.status_code"),
        None,
        "a success's status is not kept by the span, and not invented"
    );
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    assert!(span.start_time_unix_nano > 1_700_000_000 * 1_000_000_000);
    let answered = reply.headers["traceparent"].to_str().expect("ascii");
    assert!(
        answered.contains(&hex::encode(&span.span_id)),
        "the exported span is the API's own: {answered}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_error_carries_its_status_and_a_fresh_trace_has_no_parent() {
    let (app, exporter, mut received) = app_exporting_to_a_collector().await;
    let missing = eventforge_core::OrderId::generate();
    let reply = app
        .get(&format!("/api/orders/{missing}"), &token("alice"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let (_, span) = next_span(&exporter, &mut received).await;
    assert_eq!(span.name, "GET /api/orders/{id}");
    assert_eq!(
        int_attribute(&span.attributes, "http.response.status_code"),
        Some(404)
    );
    // A client's mistake is not the server's fault: X-Ray marks it from the status code.
    let status_code = span.status.as_ref().map_or(0, |status| status.code);
    assert_eq!(status_code, 0, "status unset");
    assert!(
        span.parent_span_id.is_empty(),
        "no caller trace: a root span"
    );
    let seconds = u32::from_be_bytes(span.trace_id[..4].try_into().expect("16 bytes"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (i64::from(seconds) - now).abs() < 3600,
        "a new trace id starts with its time, as X-Ray requires"
    );
}
