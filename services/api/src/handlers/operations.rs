//! What operations need: liveness for the load balancer, and this API's OpenAPI document.

use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` when the process serves requests.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness for the load balancer; needs no token.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "The API is up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub async fn openapi_document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
