//! Request spans to AWS X-Ray through OpenTelemetry: each finished span becomes an OTel server
//! span (HTTP attributes by the semantic conventions), batched by the OpenTelemetry SDK's batch
//! processor on a thread of its own and exported over OTLP/HTTP to the ADOT collector that runs
//! beside the API in its Fargate task (`OTEL_EXPORTER_OTLP_ENDPOINT`, which the api stack sets
//! to `http://127.0.0.1:4318`). The collector's X-Ray exporter files them as segments of the
//! order's trace, under the parent the load balancer or the caller named; Lambda and Step
//! Functions report their own segments under the same trace id, which the events carry.
//!
//! The ids are the ones `eventforge_core::trace` made or continued: valid X-Ray ids (the first
//! four bytes are the start time), so the collector can convert them. Exporting must never
//! hold up or fail a request: a span the queue has no room for is dropped.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use eventforge_core::trace::{Span, SpanKind, SpanSink, SpanStoreError};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind as OtelSpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SpanData, SpanEvents, SpanExporter, SpanLinks, SpanProcessor,
};

/// The OTLP path of traces under the collector's base address.
const TRACES_PATH: &str = "/v1/traces";

#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP exporter for {endpoint}: {message}")]
pub struct OtlpError {
    endpoint: String,
    message: String,
}

/// Sends finished spans to an OTLP/HTTP collector.
#[derive(Debug)]
pub struct OtlpExporter {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
}

impl OtlpExporter {
    /// Spans of `service` to the collector at `endpoint` (its base address, e.g.
    /// `http://127.0.0.1:4318`; the traces path is added).
    pub fn new(endpoint: &str, service: &str) -> Result<Self, OtlpError> {
        let traces = format!("{}{TRACES_PATH}", endpoint.trim_end_matches('/'));
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(&traces)
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|error| OtlpError {
                endpoint: traces.clone(),
                message: error.to_string(),
            })?;
        exporter.set_resource(
            &Resource::builder_empty()
                .with_service_name(service.to_owned())
                .build(),
        );
        Ok(Self {
            processor: BatchSpanProcessor::builder(exporter).build(),
            scope: InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        })
    }

    /// Sends every queued span now (tests, and shutdown).
    pub fn flush(&self) -> Result<(), SpanStoreError> {
        self.processor
            .force_flush()
            .map_err(|error| SpanStoreError(format!("OTLP flush: {error}")))
    }

    /// Sends what is queued and stops the exporting thread.
    pub fn shutdown(&self) -> Result<(), SpanStoreError> {
        self.processor
            .shutdown()
            .map_err(|error| SpanStoreError(format!("OTLP shutdown: {error}")))
    }
}

#[async_trait]
impl SpanSink for OtlpExporter {
    async fn record(&self, span: &Span) -> Result<(), SpanStoreError> {
        let data = span_data(span, &self.scope)
            .ok_or_else(|| SpanStoreError(format!("not an OpenTelemetry span id: {span:?}")))?;
        // Queues the span for the batch thread; never blocks.
        self.processor.on_end(data);
        Ok(())
    }
}

/// The OpenTelemetry form of `span`; `None` when its ids are not hex of the right length.
pub fn span_data(span: &Span, scope: &InstrumentationScope) -> Option<SpanData> {
    let trace_id = hex_id(&span.trace_id, 32).and_then(|hex| TraceId::from_hex(hex).ok())?;
    let span_id = hex_id(&span.span_id, 16).and_then(|hex| SpanId::from_hex(hex).ok())?;
    let parent_span_id = match &span.parent_span_id {
        Some(parent) => hex_id(parent, 16).and_then(|hex| SpanId::from_hex(hex).ok())?,
        None => SpanId::INVALID,
    };
    let start_time = SystemTime::from(span.started_at);
    let end_time = start_time + Duration::from_micros(span.duration_us);
    let mut attributes = Vec::new();
    let status_code = http_status(span);
    if span.kind == SpanKind::Request {
        let (method, route) = span.name.split_once(' ').unwrap_or(("", &span.name));
        attributes.push(KeyValue::new("http.request.method", method.to_owned()));
        attributes.push(KeyValue::new("http.route", route.to_owned()));
        // The span keeps the status of a failed request only; a success's exact 2xx is not
        // invented.
        if let Some(code) = status_code {
            attributes.push(KeyValue::new("http.response.status_code", i64::from(code)));
        }
    }
    // Server spans are errors only for the server's own faults (5xx); a client's mistake is
    // told by the status code, which X-Ray turns into its `error` flag.
    let status = match (&span.error, status_code) {
        (None, _) => Status::Unset,
        (Some(_), Some(code)) if code < 500 => Status::Unset,
        (Some(error), _) => Status::error(error.clone()),
    };
    Some(SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id,
        // The parent is the caller's (or the load balancer's) span, in another process.
        parent_span_is_remote: span.parent_span_id.is_some(),
        span_kind: match span.kind {
            SpanKind::Request => OtelSpanKind::Server,
            SpanKind::Step => OtelSpanKind::Internal,
            SpanKind::Consumer => OtelSpanKind::Consumer,
        },
        name: Cow::Owned(span.name.clone()),
        start_time,
        end_time,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    })
}

fn hex_id(text: &str, digits: usize) -> Option<&str> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

/// The HTTP status a request span recorded as its error (`HTTP 404`).
fn http_status(span: &Span) -> Option<u16> {
    span.error
        .as_deref()
        .and_then(|error| error.strip_prefix("HTTP "))
        .and_then(|code| code.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("test").build()
    }

    fn request(error: Option<&str>) -> Span {
        Span {
            trace_id: "5759e988bd862e3fe1be46a994272793".to_owned(),
            span_id: "53995c3f42cd8ad8".to_owned(),
            parent_span_id: Some("00f067aa0ba902b7".to_owned()),
            name: "POST /api/orders".to_owned(),
            kind: SpanKind::Request,
            started_at: datetime!(2026-12-02 10:00:00 UTC),
            duration_us: 1_500,
            error: error.map(str::to_owned),
        }
    }

    fn attribute(data: &SpanData, key: &str) -> Option<String> {
        data.attributes
            .iter()
            .find(|pair| pair.key.as_str() == key)
            .map(|pair| pair.value.to_string())
    }

    #[test]
    fn a_request_is_a_server_span_with_its_route() {
        let data = span_data(&request(None), &scope()).expect("valid ids");
        assert_eq!(data.span_kind, OtelSpanKind::Server);
        assert_eq!(
            data.span_context.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(data.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert!(data.parent_span_is_remote);
        assert_eq!(
            attribute(&data, "http.request.method").as_deref(),
            Some("POST")
        );
        assert_eq!(
            attribute(&data, "http.route").as_deref(),
            Some("/api/orders")
        );
        assert_eq!(attribute(&data, "http.response.status_code"), None);
        assert_eq!(
            data.end_time.duration_since(data.start_time).unwrap(),
            Duration::from_micros(1_500)
        );
        assert_eq!(data.status, Status::Unset);
    }

    #[test]
    fn only_a_server_fault_is_an_error_status() {
        let client_error = span_data(&request(Some("HTTP 422")), &scope()).unwrap();
        assert_eq!(client_error.status, Status::Unset);
        assert_eq!(
            attribute(&client_error, "http.response.status_code").as_deref(),
            Some("422")
        );
        let fault = span_data(&request(Some("HTTP 503")), &scope()).unwrap();
        assert!(matches!(fault.status, Status::Error { .. }));
    }

    #[test]
    fn a_root_span_has_no_parent() {
        let mut root = request(None);
        root.parent_span_id = None;
        let data = span_data(&root, &scope()).unwrap();
        assert_eq!(data.parent_span_id, SpanId::INVALID);
        assert!(!data.parent_span_is_remote);
    }

    #[test]
    fn ids_that_are_not_hex_make_no_span() {
        let mut bad = request(None);
        bad.trace_id = "not-a-trace-id".to_owned();
        assert!(span_data(&bad, &scope()).is_none());
    }
}
