//! The catalogue's administration, for members of the `admins` group: every product with its
//! stock, and creating or restocking one. A fresh deployment's catalogue is empty; this (or
//! `cargo xtask catalogue import`) is how products get in.

use crate::error::{ApiError, Problem};
use crate::extract::{AdminUser, ApiJson, ApiPath};
use crate::handlers::inventory::InventoryList;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eventforge_core::InventoryItem;
use eventforge_core::inventory::CatalogueEntry;
use serde::{Deserialize, Serialize};

/// A product as an administrator sets it; the SKU is the path's.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductUpdate {
    #[schema(schema_with = eventforge_core::schema::product_name)]
    pub name: String,
    #[schema(schema_with = eventforge_core::schema::unit_price_minor)]
    #[serde(deserialize_with = "eventforge_core::validation::whole_number")]
    pub unit_price_minor: i64,
    #[schema(schema_with = eventforge_core::schema::currency)]
    pub currency: String,
    #[schema(schema_with = eventforge_core::schema::stock)]
    #[serde(deserialize_with = "eventforge_core::validation::whole_number")]
    pub stock: i64,
}

/// Every product with its stock (administrators).
#[utoipa::path(
    get,
    path = "/api/admin/inventory",
    tag = "catalogue",
    responses(
        (status = 200, description = "Every product, by SKU", body = InventoryList),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the admins group", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_products(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<InventoryList>, ApiError> {
    let items = state.config().store.list_inventory().await?;
    Ok(Json(InventoryList { items }))
}

/// The product a path names.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SkuPath {
    #[param(schema_with = eventforge_core::schema::sku)]
    pub sku: String,
}

/// Creates a product, or replaces its name, price and stock (administrators).
#[utoipa::path(
    put,
    path = "/api/admin/inventory/{sku}",
    tag = "catalogue",
    params(SkuPath),
    request_body = ProductUpdate,
    responses(
        (status = 200, description = "The product was updated", body = InventoryItem),
        (status = 201, description = "The product was created", body = InventoryItem),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the admins group", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The token issuer's keys are unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put_product(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    ApiPath(sku): ApiPath<String>,
    ApiJson(update): ApiJson<ProductUpdate>,
) -> Result<(StatusCode, Json<InventoryItem>), ApiError> {
    let item = CatalogueEntry {
        sku,
        name: update.name,
        unit_price_minor: update.unit_price_minor,
        currency: update.currency,
        stock: update.stock,
    }
    .validate()
    .map_err(ApiError::Invalid)?;
    let store = &state.config().store;
    let existed = !store
        .get_inventory(std::slice::from_ref(&item.sku))
        .await?
        .is_empty();
    store.put_inventory(&item).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(item)))
}
