//! `GET /api/events`: the caller's event feed, newest first.

use super::page_limit;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use eventforge_core::Event;
use eventforge_core::store::MAX_RECENT_EVENTS;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentEventsQuery {
    #[param(schema_with = recent_events_limit)]
    pub limit: Option<usize>,
}

fn recent_events_limit() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    eventforge_core::schema::page_limit(MAX_RECENT_EVENTS, MAX_RECENT_EVENTS)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<Event>,
}

/// The caller's most recent events, newest first: order progress, webhook delivery outcomes and
/// dead-lettered messages.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    params(RecentEventsQuery),
    responses(
        (status = 200, description = "The caller's recent events, newest first", body = EventList),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "limit out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn recent_events(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(query): ApiQuery<RecentEventsQuery>,
) -> Result<Json<EventList>, ApiError> {
    let limit = page_limit(query.limit, MAX_RECENT_EVENTS, MAX_RECENT_EVENTS)?;
    let events = state.config().store.recent_events(&user, limit).await?;
    Ok(Json(EventList { events }))
}
