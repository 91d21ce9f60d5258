//! Request spans to AWS X-Ray, through the X-Ray daemon that runs beside the API in its
//! Fargate task (UDP at `AWS_XRAY_DAEMON_ADDRESS`, which the api stack sets to 127.0.0.1:2000).
//!
//! Each span becomes one segment document: the API's segment in the order's trace, whose
//! parent is the load balancer's (or the caller's) span. Lambda and Step Functions report their
//! own segments under the same trace id, which the events carry.
//!
//! The daemon protocol is one datagram per document: a JSON header line, then the segment.
//! Sending is fire-and-forget by design (the daemon batches to the X-Ray API); a send that
//! fails is an error for the caller to log, never a failed request.

use std::net::SocketAddr;

use async_trait::async_trait;
use eventforge_core::trace::{Span, SpanSink, SpanStoreError};
use serde_json::json;
use tokio::net::UdpSocket;

const HEADER: &str = r#"{"format": "json", "version": 1}"#;

pub struct XrayDaemon {
    socket: UdpSocket,
    service: String,
}

impl XrayDaemon {
    /// A sink sending `service`'s segments to the daemon at `daemon`.
    pub async fn connect(daemon: SocketAddr, service: &str) -> std::io::Result<Self> {
        let local: SocketAddr = if daemon.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(std::io::Error::other)?;
        let socket = UdpSocket::bind(local).await?;
        socket.connect(daemon).await?;
        Ok(Self {
            socket,
            service: service.to_owned(),
        })
    }
}

/// The segment document of `span`, as X-Ray's segment schema names things; `None` for a span
/// whose trace id is not 32 hex digits (X-Ray could not file it).
pub fn segment(span: &Span, service: &str) -> Option<serde_json::Value> {
    let trace_id = &span.trace_id;
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let start = span.started_at.unix_timestamp_nanos() as f64 / 1e9;
    let end = start + span.duration_us as f64 / 1e6;
    let (method, route) = span
        .name
        .split_once(' ')
        .unwrap_or(("", span.name.as_str()));
    let status = span
        .error
        .as_deref()
        .and_then(|e| e.strip_prefix("HTTP "))
        .and_then(|code| code.parse::<u16>().ok());
    let mut segment = json!({
        "name": service,
        "id": span.span_id,
        "trace_id": format!("1-{}-{}", &trace_id[..8], &trace_id[8..]),
        "start_time": start,
        "end_time": end,
        "http": { "request": { "method": method, "url": route } },
        "annotations": { "route": route },
    });
    if let Some(parent) = &span.parent_span_id {
        segment["parent_id"] = json!(parent);
    }
    if let Some(status) = status {
        segment["http"]["response"] = json!({ "status": status });
        // X-Ray's vocabulary: `error` is the client's (4xx), `fault` is ours (5xx).
        segment[if status >= 500 { "fault" } else { "error" }] = json!(true);
    }
    Some(segment)
}

#[async_trait]
impl SpanSink for XrayDaemon {
    async fn record(&self, span: &Span) -> Result<(), SpanStoreError> {
        let segment = segment(span, &self.service)
            .ok_or_else(|| SpanStoreError(format!("no X-Ray trace id: {}", span.trace_id)))?;
        let document = format!("{HEADER}\n{segment}");
        self.socket
            .send(document.as_bytes())
            .await
            .map(|_| ())
            .map_err(|e| SpanStoreError(format!("X-Ray daemon: {e}")))
    }
}
