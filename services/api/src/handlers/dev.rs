//! Development-only endpoints, present when the API runs with a development issuer
//! (`cargo xtask dev`): its key set, a token mint, and the dashboard's runtime configuration.

use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use eventforge_auth::{DevIssuer, MAX_USERNAME_CHARS};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Lifetime of a development access token, as Cognito's default.
pub const DEV_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

fn dev_issuer(state: &AppState) -> Result<&DevIssuer, ApiError> {
    state
        .config()
        .dev_issuer
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("this server has no development issuer".to_owned()))
}

/// The development issuer's public signing keys.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "development",
    responses(
        (status = 200, description = "The JWKS tokens from /dev/token are verified with", body = Object),
        (status = 404, description = "Not running with a development issuer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let set = dev_issuer(&state)?.jwks();
    Ok(Json(serde_json::to_value(set).map_err(ApiError::internal)?))
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevTokenRequest {
    #[schema(schema_with = username_schema)]
    pub username: String,
    /// Mint the token for a member of the `admins` group, who may manage the catalogue
    /// (`/api/admin/inventory`), as Cognito does for members of that group.
    #[serde(default)]
    pub admin: bool,
}

/// The rule `DevIssuer` applies to a username, as a pattern built from its limit.
fn username_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    let max = MAX_USERNAME_CHARS;
    eventforge_core::schema::string(
        &format!("1 to {max} characters of letters, digits, '.', '_', '@' or '-'"),
        Some(format!("^[A-Za-z0-9._@-]{{1,{max}}}$")),
    )
    .examples(["alice"])
    .into()
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct DevTokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds.
    pub expires_in: u64,
    /// The token's `sub`, which owns the user's orders.
    pub user_id: String,
}

/// Mints an access token for any username, as signing in would. Development only.
#[utoipa::path(
    post,
    path = "/dev/token",
    tag = "development",
    request_body = DevTokenRequest,
    responses(
        (status = 200, description = "A Cognito-shaped access token", body = DevTokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not running with a development issuer", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unusable username", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn dev_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<DevTokenRequest>,
) -> Result<Json<DevTokenResponse>, ApiError> {
    let issuer = dev_issuer(&state)?;
    let access_token = if request.admin {
        issuer.mint_access_token_in_groups(
            &request.username,
            &[eventforge_core::roles::ADMINS_GROUP],
            DEV_TOKEN_LIFETIME,
        )?
    } else {
        issuer.mint_access_token(&request.username, DEV_TOKEN_LIFETIME)?
    };
    Ok(Json(DevTokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: DEV_TOKEN_LIFETIME.as_secs(),
        user_id: DevIssuer::user_id(&request.username),
    }))
}

/// The dashboard's runtime configuration: the API's base URL and how to sign in.
#[utoipa::path(
    get,
    path = "/config.json",
    tag = "development",
    responses(
        (status = 200, description = "`{\"apiBaseUrl\", \"auth\": {\"mode\": \"dev\" | \"cognito\", ...}}`", body = Object),
        (status = 404, description = "No runtime configuration on this server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn dashboard_config(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .config()
        .dashboard_config()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("this server has no dashboard configuration".to_owned()))
}
