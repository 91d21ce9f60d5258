//! `POST /webhooks/ingest`: events from outside systems, authenticated by an HMAC signature over
//! the timestamp and the raw body instead of a bearer token.

use crate::error::{ApiError, Problem};
use crate::extract::{parse_json, require_json_content_type};
use crate::state::AppState;
use crate::trace::RequestTrace;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use eventforge_core::event::truncate_to_millis;
use eventforge_core::signature;
use eventforge_core::{Event, EventId, EventType, OrderId, UserId};
use serde::{Deserialize, Serialize};

pub const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("x-eventforge-timestamp");
pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-eventforge-signature");

/// Longest `user_id` accepted; Cognito `sub`s are 36 characters.
const MAX_USER_ID_CHARS: usize = 128;

/// An event reported by an outside system.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// `noun.verb`, lower case, e.g. `shipment.dispatched`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The order the event is about, which must belong to `user_id`.
    pub order_id: Option<OrderId>,
    /// The user whose feed receives the event.
    pub user_id: String,
    /// Event-specific data; a JSON object.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestAccepted {
    /// The id of the recorded event.
    pub id: EventId,
}

/// Records an outside event after checking its signature; it reaches the bus through the outbox.
///
/// Sign with the shared ingest secret: `X-EventForge-Signature: v1=<hex HMAC-SHA256 of
/// "{timestamp}.{body}">` and `X-EventForge-Timestamp: <Unix seconds>`, within five minutes of
/// the server's clock.
#[utoipa::path(
    post,
    path = "/webhooks/ingest",
    tag = "ingest",
    request_body = IngestRequest,
    params(
        ("X-EventForge-Timestamp" = String, Header, description = "Unix seconds when the request was signed"),
        ("X-EventForge-Signature" = String, Header, description = "v1=<lower-case hex HMAC-SHA256 of \"{timestamp}.{body}\">"),
    ),
    responses(
        (status = 202, description = "Recorded; it will be published", body = IngestAccepted),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong signature, or a timestamp outside the five-minute window", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid event; `errors` names every bad field", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    request: Request,
) -> Result<(StatusCode, Json<IngestAccepted>), ApiError> {
    let config = state.config();
    let headers = request.headers().clone();
    let trace = request.extensions().get::<RequestTrace>().map(|t| t.0);
    let body = Bytes::from_request(request, &()).await?;
    // Nothing about the body is looked at before the signature holds.
    let timestamp = signed_header(&headers, &TIMESTAMP_HEADER)?;
    let signature = signed_header(&headers, &SIGNATURE_HEADER)?;
    let now = config.clock.now();
    signature::verify(&config.ingest_secret, timestamp, signature, &body, now)?;
    require_json_content_type(&headers)?;
    let request: IngestRequest = parse_json(&body)?;
    let event = accept(&state, request, now).await?.caused_by(trace);
    config.store.append_event(&event).await?;
    tracing::info!(event_id = %event.id, event_type = %event.event_type, "ingested an event");
    Ok((StatusCode::ACCEPTED, Json(IngestAccepted { id: event.id })))
}

fn signed_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::Unauthenticated(format!(
                "the {name} header is missing; sign ingest requests as the API documentation describes"
            ))
        })
}

/// Checks what the signature cannot: the user id is usable, the detail is an object, and the
/// order (if named) is the user's, so a feed never shows an event about someone else's order.
async fn accept(
    state: &AppState,
    request: IngestRequest,
    now: time::OffsetDateTime,
) -> Result<Event, ApiError> {
    let user_id = request.user_id.trim();
    if user_id.is_empty() || user_id.chars().count() > MAX_USER_ID_CHARS {
        return Err(ApiError::invalid_field(
            "user_id",
            format!("user_id must be 1 to {MAX_USER_ID_CHARS} characters"),
        ));
    }
    if request.event_type.is_platform_owned() {
        return Err(ApiError::invalid_field(
            "type",
            format!(
                "{} is the platform's own event type: ingested events may not be in the namespaces {}; name it in your own, such as \"shipment.dispatched\"",
                request.event_type,
                EventType::PLATFORM_NAMESPACES.join(", ")
            ),
        ));
    }
    if !request.detail.is_object() {
        return Err(ApiError::invalid_field(
            "detail",
            "detail must be a JSON object",
        ));
    }
    let user = UserId(user_id.to_owned());
    if let Some(order_id) = request.order_id {
        let owned = state
            .config()
            .store
            .get_order(order_id)
            .await?
            .is_some_and(|order| order.user_id == user);
        if !owned {
            return Err(ApiError::invalid_field(
                "order_id",
                format!("user {user} has no order {order_id}"),
            ));
        }
    }
    Ok(Event {
        id: EventId::generate(),
        event_type: request.event_type,
        order_id: request.order_id,
        user_id: Some(user),
        occurred_at: truncate_to_millis(now),
        detail: request.detail,
        trace: None,
    })
}
