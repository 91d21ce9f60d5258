//! Trace context: which trace a piece of work belongs to and which span caused it.
//!
//! One order is one trace, from the API request through the bus, the saga and every processor.
//! The context travels inside each [`Event`](crate::Event) in the W3C `traceparent` form, and
//! converts to and from AWS X-Ray's `X-Amzn-Trace-Id` header, which the load balancer adds and
//! Lambda and Step Functions understand. Trace ids follow X-Ray's rule (the first four bytes are
//! the start time in Unix seconds) so the same id is valid in both systems.
//!
//! Both formats are parsed here rather than through OpenTelemetry's propagators: those work on
//! the SDK's context and carrier types, and this crate must stay free of any runtime.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A position in a trace: the trace id and the span that is the parent of new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a trace context: {0}")]
pub struct InvalidTraceContext(String);

impl TraceContext {
    /// The root of a new trace, sampled, stamped with `now`.
    pub fn new_root(now: OffsetDateTime) -> Self {
        let random = *Uuid::new_v4().as_bytes();
        let mut trace_id = [0u8; 16];
        // X-Ray rejects trace ids whose time part is far from the present.
        let seconds = u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX);
        trace_id[..4].copy_from_slice(&seconds.to_be_bytes());
        trace_id[4..].copy_from_slice(&random[..12]);
        Self {
            trace_id,
            span_id: new_span_id(),
            sampled: true,
        }
    }

    /// A new span in the same trace, whose parent is this one.
    pub fn child(&self) -> Self {
        Self {
            span_id: new_span_id(),
            ..*self
        }
    }

    /// 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex::encode(self.span_id)
    }

    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// `00-<trace id>-<span id>-<flags>`. Written in place, as one string: the API sends it
    /// with every response.
    pub fn traceparent(&self) -> String {
        let mut text = *b"00-<trace id: 32 hex digits       >-<span id: 16   >-00";
        encode_hex(&self.trace_id, &mut text[3..35]);
        encode_hex(&self.span_id, &mut text[36..52]);
        if self.sampled {
            text[54] = b'1';
        }
        text.iter().copied().map(char::from).collect()
    }

    /// `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`.
    pub fn xray_header(&self) -> String {
        let trace_id = self.trace_id();
        format!(
            "Root=1-{}-{};Parent={};Sampled={}",
            &trace_id[..8],
            &trace_id[8..],
            self.span_id(),
            u8::from(self.sampled)
        )
    }

    /// Reads a W3C `traceparent` header value (version 00; later versions are read the same way,
    /// as the specification asks).
    pub fn from_traceparent(value: &str) -> Result<Self, InvalidTraceContext> {
        let invalid = || InvalidTraceContext(value.to_owned());
        let mut parts = value.trim().split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return Err(invalid());
        }
        hex::decode(version).map_err(|_| invalid())?;
        let flags = decode::<1>(flags).ok_or_else(invalid)?[0];
        Self::from_parts(trace, span, flags & 1 == 1).ok_or_else(invalid)
    }

    /// Reads an `X-Amzn-Trace-Id` header value. A header without `Parent` (as a load balancer
    /// sends it) starts the trace's first span here.
    pub fn from_xray_header(value: &str) -> Result<Self, InvalidTraceContext> {
        let invalid = || InvalidTraceContext(value.to_owned());
        let (mut root, mut parent, mut sampled) = (None, None, true);
        for field in value.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", id)) => root = Some(id),
                Some(("Parent", id)) => parent = Some(id),
                Some(("Sampled", flag)) => sampled = flag != "0",
                _ => {}
            }
        }
        let trace = match root.ok_or_else(invalid)?.split('-').collect::<Vec<_>>()[..] {
            ["1", time, unique] if time.len() == 8 && unique.len() == 24 => {
                format!("{time}{unique}")
            }
            _ => return Err(invalid()),
        };
        match parent {
            Some(span) => Self::from_parts(&trace, span, sampled).ok_or_else(invalid),
            None => {
                Self::from_parts(&trace, &hex::encode(new_span_id()), sampled).ok_or_else(invalid)
            }
        }
    }

    fn from_parts(trace: &str, span: &str, sampled: bool) -> Option<Self> {
        let trace_id = decode::<16>(trace)?;
        let span_id = decode::<8>(span)?;
        // All-zero ids are invalid by the specification; uppercase is not allowed either.
        let lowercase = |s: &str| !s.bytes().any(|b| b.is_ascii_uppercase());
        (trace_id != [0; 16] && span_id != [0; 8] && lowercase(trace) && lowercase(span)).then_some(
            Self {
                trace_id,
                span_id,
                sampled,
            },
        )
    }
}

fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut bytes = [0; N];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// `bytes` as lowercase hex into `text`, whose length the callers fix at twice theirs (hex
/// refuses any other, which the `traceparent` specs would show).
fn encode_hex(bytes: &[u8], text: &mut [u8]) {
    let _ = hex::encode_to_slice(bytes, text);
}

fn new_span_id() -> [u8; 8] {
    loop {
        let random = Uuid::new_v4();
        let mut span = [0u8; 8];
        span.copy_from_slice(&random.as_bytes()[..8]);
        if span != [0; 8] {
            return span;
        }
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

impl FromStr for TraceContext {
    type Err = InvalidTraceContext;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::from_traceparent(value)
    }
}

impl TryFrom<String> for TraceContext {
    type Error = InvalidTraceContext;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_traceparent(&value)
    }
}

impl From<TraceContext> for String {
    fn from(context: TraceContext) -> Self {
        context.traceparent()
    }
}

/// One finished piece of work in a trace: an API request, a saga step, a processor's handling
/// of one message. Locally spans are kept by a [`SpanStore`]; on AWS X-Ray keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Span {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The span that caused this one; none for a trace's first span.
    pub parent_span_id: Option<String>,
    /// What ran, e.g. `POST /api/orders`, `reserve-inventory`, `receipt-processor`.
    pub name: String,
    pub kind: SpanKind,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    pub duration_us: u64,
    /// `None` when the work succeeded; otherwise what went wrong (an error type or status).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// An HTTP request to the API.
    Request,
    /// A Task state of the saga invoking its function.
    Step,
    /// A queue consumer handling one message.
    Consumer,
}

impl Span {
    /// The span `context` (whose parent is `parent`), started at `started_at`, lasting `duration`.
    pub fn finished(
        context: &TraceContext,
        parent: Option<&TraceContext>,
        name: impl Into<String>,
        kind: SpanKind,
        started_at: OffsetDateTime,
        duration: std::time::Duration,
        error: Option<String>,
    ) -> Self {
        Self {
            trace_id: context.trace_id(),
            span_id: context.span_id(),
            parent_span_id: parent.map(TraceContext::span_id),
            name: name.into(),
            kind,
            started_at,
            duration_us: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            error,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the span store failed: {0}")]
pub struct SpanStoreError(pub String);

/// Where finished spans go: a local file, or X-Ray's daemon on AWS.
#[async_trait::async_trait]
pub trait SpanSink: Send + Sync {
    async fn record(&self, span: &Span) -> Result<(), SpanStoreError>;
}

/// A sink that can also read its spans back, by trace.
#[async_trait::async_trait]
pub trait SpanStore: SpanSink {
    /// Every span of `trace_id`, earliest first.
    async fn trace(&self, trace_id: &str) -> Result<Vec<Span>, SpanStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const W3C_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_reads_and_writes_back_unchanged() {
        let context = TraceContext::from_traceparent(W3C_EXAMPLE).expect("valid");
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.span_id(), "00f067aa0ba902b7");
        assert!(context.sampled());
        assert_eq!(context.traceparent(), W3C_EXAMPLE);
    }

    #[test]
    fn the_xray_example_is_the_same_trace_in_the_other_format() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let context = TraceContext::from_xray_header(header).expect("valid");
        assert_eq!(context.trace_id(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(context.xray_header(), header);
        assert_eq!(
            context.traceparent(),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
        );
    }

    #[test]
    fn a_load_balancer_header_without_parent_keeps_its_trace_and_gets_a_span() {
        let context =
            TraceContext::from_xray_header("Root=1-67891233-abcdef012345678912345678").expect("ok");
        assert_eq!(context.trace_id(), "67891233abcdef012345678912345678");
        assert_eq!(context.span_id().len(), 16);
    }

    #[test]
    fn malformed_and_all_zero_contexts_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::from_traceparent(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
        ] {
            assert!(TraceContext::from_xray_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_new_root_carries_its_start_time_as_xray_requires() {
        let now = time::macros::datetime!(2026-11-25 07:00:00 UTC);
        let root = TraceContext::new_root(now);
        let seconds = u32::from_str_radix(&root.trace_id()[..8], 16).expect("hex");
        assert_eq!(i64::from(seconds), now.unix_timestamp());
    }

    #[test]
    fn a_child_stays_in_the_trace_with_a_new_span() {
        let root = TraceContext::new_root(OffsetDateTime::now_utc());
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.span_id(), root.span_id());
    }

    proptest! {
        #[test]
        fn both_formats_round_trip(trace in any::<[u8; 16]>(), span in any::<[u8; 8]>(), sampled: bool) {
            prop_assume!(trace != [0; 16] && span != [0; 8]);
            let context = TraceContext { trace_id: trace, span_id: span, sampled };
            prop_assert_eq!(TraceContext::from_traceparent(&context.traceparent()), Ok(context));
            prop_assert_eq!(TraceContext::from_xray_header(&context.xray_header()), Ok(context));
            let json = serde_json::to_string(&context).expect("serialise");
            prop_assert_eq!(serde_json::from_str::<TraceContext>(&json).expect("read"), context);
        }
    }
}
