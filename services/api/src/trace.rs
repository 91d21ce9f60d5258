//! The trace each request belongs to.
//!
//! A request continues the caller's trace when it sends one (`traceparent`, or the
//! `X-Amzn-Trace-Id` an AWS load balancer adds) and starts a new trace otherwise. The request
//! is one span of that trace; the events it writes name that span as their cause, so the saga
//! and the processors continue the same trace. The response carries the request's span in
//! `traceparent`, and the request's log lines carry the trace id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use eventforge_core::TraceContext;
use eventforge_core::trace::{Span, SpanKind};
use time::OffsetDateTime;

use crate::state::AppState;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const XRAY_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The span of the request being served (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct RequestTrace(pub TraceContext);

/// The caller's context if it sent a usable one: `traceparent` first, as the W3C
/// specification asks of a server that understands both. An unreadable header is ignored (the
/// request starts a new trace), never refused: tracing must not break requests.
fn incoming(headers: &HeaderMap) -> Option<TraceContext> {
    let header = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    header(&TRACEPARENT)
        .and_then(|value| TraceContext::from_traceparent(value).ok())
        .or_else(|| {
            header(&XRAY_TRACE_ID).and_then(|value| TraceContext::from_xray_header(value).ok())
        })
}

pub async fn propagate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let parent = incoming(request.headers());
    let span = match parent {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(state.config().clock.now()),
    };
    crate::request_log::note_trace(span.trace_id());
    request.extensions_mut().insert(RequestTrace(span));
    // Only a span that is kept needs its name and times.
    let kept = state
        .config()
        .span_sink
        .clone()
        .filter(|_| span.sampled())
        .and_then(|spans| {
            let name = span_name(&request)?;
            Some((spans, name, OffsetDateTime::now_utc(), Instant::now()))
        });
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::try_from(span.traceparent()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    if let Some((spans, name, started_at, clock)) = kept {
        let status = response.status();
        let error = (status.is_client_error() || status.is_server_error())
            .then(|| format!("HTTP {}", status.as_u16()));
        let finished = Span::finished(
            &span,
            parent.as_ref(),
            name,
            SpanKind::Request,
            started_at,
            clock.elapsed(),
            error,
        );
        // Keeping the span must not delay the response.
        tokio::spawn(async move {
            if let Err(error) = spans.record(&finished).await {
                tracing::warn!(%error, "request span not kept");
            }
        });
    }
    response
}

/// `POST /api/orders/{id}` style names for the API's own routes; files, health checks and
/// unknown paths are not traced.
fn span_name(request: &Request) -> Option<String> {
    let route = request.extensions().get::<MatchedPath>()?.as_str();
    (route.starts_with("/api/") || route.starts_with("/webhooks/"))
        .then(|| format!("{} {route}", request.method()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_wins_over_the_load_balancers_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            XRAY_TRACE_ID,
            HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793"),
        );
        assert_eq!(
            incoming(&headers).map(|c| c.trace_id()).as_deref(),
            Some("5759e988bd862e3fe1be46a994272793")
        );
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(
            incoming(&headers).map(|c| c.trace_id()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn an_unreadable_header_is_no_trace_rather_than_an_error() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static("garbage"));
        assert_eq!(incoming(&headers), None);
    }
}
