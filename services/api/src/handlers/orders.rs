//! `/api/orders`: place an order, list them, one order with its history, its receipt.

use super::page_limit;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, optional_header};
use crate::request_log::note_order;
use crate::state::AppState;
use crate::trace::RequestTrace;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, http::HeaderMap};
use eventforge_application::commands::{order_of_user, place_order};
use eventforge_core::store::{CreateOutcome, MAX_PAGE_SIZE};
use eventforge_core::trace::Span as TraceSpan;
use eventforge_core::validation::CreateOrderRequest;
use eventforge_core::{Event, Order, OrderId};
use serde::{Deserialize, Serialize};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Orders per page unless `limit` says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Places an order for the caller. It starts PENDING; its `order.created` event starts the saga.
#[utoipa::path(
    post,
    path = "/api/orders",
    tag = "orders",
    request_body = CreateOrderRequest,
    params(IdempotencyHeader),
    responses(
        (status = 201, description = "The order was placed", body = Order,
            headers(("Location" = String, description = "/api/orders/{id}"))),
        (status = 200, description = "A replay of an earlier request with the same Idempotency-Key: the original order", body = Order,
            headers(("Idempotent-Replayed" = String, description = "true"))),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key was used for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid order; `errors` names every bad field", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_order(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Extension(RequestTrace(trace)): Extension<RequestTrace>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateOrderRequest>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let key = optional_header(&headers, &IDEMPOTENCY_KEY)?;
    let outcome = place_order(
        &*config.store,
        &*config.clock,
        &user,
        &request,
        key,
        Some(trace),
    )
    .await?;
    note_order(outcome.order().id);
    let location = HeaderValue::try_from(format!("/api/orders/{}", outcome.order().id))
        .map_err(ApiError::internal)?;
    Ok(match outcome {
        CreateOutcome::Created(order) => (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(order),
        )
            .into_response(),
        CreateOutcome::Replayed(order) => (
            StatusCode::OK,
            [
                (header::LOCATION, location),
                (IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")),
            ],
            Json(order),
        )
            .into_response(),
    })
}

/// The header that makes `POST /api/orders` safe to repeat.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    #[param(rename = "Idempotency-Key", schema_with = eventforge_core::schema::idempotency_key)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    #[param(schema_with = orders_limit)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

fn orders_limit() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    eventforge_core::schema::page_limit(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
}

/// One page of orders, newest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Pass it back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's orders, newest first.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    params(ListOrdersQuery),
    responses(
        (status = 200, description = "One page of the caller's orders", body = OrderPage),
        (status = 400, description = "Malformed query or a cursor this server did not issue", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "limit out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<ListOrdersQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let page = state
        .config()
        .store
        .list_orders(&user, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(OrderPage {
        orders: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// An order with every event about it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderDetail {
    pub order: Order,
    /// Oldest first.
    pub history: Vec<Event>,
}

/// One of the caller's orders with its history. Another user's order is 404, as if it did not
/// exist.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    params(("id" = String, Path, format = Uuid, description = "The order id")),
    responses(
        (status = 200, description = "The order and its history, oldest first", body = OrderDetail),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<OrderDetail>, ApiError> {
    note_order(id);
    let (order, history) = order_of_user(&*state.config().store, &user, id).await?;
    Ok(Json(OrderDetail { order, history }))
}

/// One order's trace: every recorded span, earliest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderTrace {
    pub trace_id: String,
    pub spans: Vec<TraceSpan>,
}

/// The API request, each saga step and each processor run of one order, with their durations.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/trace",
    tag = "orders",
    params(("id" = String, Path, format = Uuid, description = "The order id")),
    responses(
        (status = 200, description = "The order's trace, spans earliest first", body = OrderTrace),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of the caller, or the order has no trace", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_trace(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<OrderTrace>, ApiError> {
    note_order(id);
    let config = state.config();
    let (_, history) = order_of_user(&*config.store, &user, id).await?;
    let trace_id = history
        .iter()
        .find_map(|event| event.trace)
        .map(|trace| trace.trace_id())
        .ok_or_else(|| ApiError::NotFound(format!("order {id} has no trace")))?;
    let spans = match &config.traces {
        Some(spans) => spans.trace(&trace_id).await.map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    Ok(Json(OrderTrace { trace_id, spans }))
}

/// Where to download a receipt.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptLink {
    /// A time-limited URL on AWS (presigned), a local file URL under `cargo xtask dev`.
    pub url: String,
}

/// The download URL of an order's PDF receipt, once the receipt processor has written it.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/receipt",
    tag = "orders",
    params(("id" = String, Path, format = Uuid, description = "The order id")),
    responses(
        (status = 200, description = "The receipt's download URL", body = ReceiptLink),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order of the caller, or no receipt yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_receipt(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<OrderId>,
) -> Result<Json<ReceiptLink>, ApiError> {
    note_order(id);
    let config = state.config();
    let (order, _history) = order_of_user(&*config.store, &user, id).await?;
    let key = order.receipt_key.ok_or_else(|| {
        ApiError::NotFound(format!(
            "order {id} has no receipt yet; receipts are written after the order is confirmed"
        ))
    })?;
    let url = config
        .receipts
        .url_for(&key)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(ReceiptLink { url }))
}
