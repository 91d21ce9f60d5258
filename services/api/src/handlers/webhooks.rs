//! `/api/webhooks`: register, list and delete the caller's webhook destinations.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventforge_application::commands::register_webhook;
use eventforge_core::webhook::RegisterWebhookRequest;
use eventforge_core::{EventType, Webhook, WebhookId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Registers an https URL to receive the caller's events, signed with a new secret that this
/// response shows once.
#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "webhooks",
    request_body = RegisterWebhookRequest,
    responses(
        (status = 201, description = "Registered; `secret` is shown only here", body = Webhook,
            headers(("Location" = String, description = "/api/webhooks/{id}"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller has the most webhooks allowed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an https URL of a public host, or bad event types", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(request): ApiJson<RegisterWebhookRequest>,
) -> Result<Response, ApiError> {
    let config = state.config();
    let webhook = register_webhook(
        &*config.store,
        &*config.clock,
        &user,
        &request,
        config.url_policy,
    )
    .await?;
    let location = HeaderValue::try_from(format!("/api/webhooks/{}", webhook.id))
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(webhook),
    )
        .into_response())
}

/// A registered webhook as listed: without its signing secret, which is shown only at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookSummary {
    pub id: WebhookId,
    pub url: String,
    pub event_types: Vec<EventType>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<Webhook> for WebhookSummary {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            url: webhook.url,
            event_types: webhook.event_types,
            created_at: webhook.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookSummary>,
}

/// The caller's webhooks.
#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "The caller's webhooks, oldest first, without secrets", body = WebhookList),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = state.config().store.list_webhooks(&user).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(WebhookSummary::from).collect(),
    }))
}

/// Deletes one of the caller's webhooks; deliveries to it stop.
#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, format = Uuid, description = "The webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<StatusCode, ApiError> {
    state.config().store.delete_webhook(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
