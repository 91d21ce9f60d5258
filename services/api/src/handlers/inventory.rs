//! `GET /api/inventory`: the products that can be ordered (any signed-in user; administrators
//! change them through `admin`).

use crate::error::{ApiError, Problem};
use crate::extract::AuthUser;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use eventforge_core::InventoryItem;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryList {
    /// By SKU.
    pub items: Vec<InventoryItem>,
}

/// The products that can be ordered, with price and stock.
#[utoipa::path(
    get,
    path = "/api/inventory",
    tag = "orders",
    responses(
        (status = 200, description = "Every product, by SKU", body = InventoryList),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn inventory(
    State(state): State<AppState>,
    AuthUser(_user): AuthUser,
) -> Result<Json<InventoryList>, ApiError> {
    let items = state.config().store.list_inventory().await?;
    Ok(Json(InventoryList { items }))
}
