//! Inventory: what can be ordered, at what price, and how many are left.

use crate::ids::Sku;
use crate::order::Currency;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryItem {
    pub sku: Sku,
    pub name: String,
    pub unit_price_minor: u64,
    pub currency: Currency,
    /// Units available to reserve; never below zero.
    pub stock: u32,
}

/// One reservation line: `quantity` units of `sku`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub sku: Sku,
    pub quantity: u32,
}
