//! Inventory: what can be ordered, at what price, and how many are left.

use crate::ids::Sku;
use crate::order::Currency;
use crate::validation::{FieldError, ValidationErrors};
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

/// The longest product name accepted (characters).
pub const MAX_NAME_CHARS: usize = 200;
/// The highest unit price accepted, in minor units: 1,000,000.00 of a currency with cents. A
/// catalogue typo of a few more zeros would otherwise go unnoticed until an order's total.
pub const MAX_UNIT_PRICE_MINOR: u64 = 100_000_000;
/// The most units one product may have in stock.
pub const MAX_STOCK: u32 = 1_000_000_000;

/// A catalogue entry as an operator writes it (a row of an imported file, the body of the
/// admin API): every field still unchecked, the numbers signed so that a negative one is a
/// validation error with its field's name rather than a parse error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    #[schema(schema_with = crate::schema::sku)]
    pub sku: String,
    #[schema(schema_with = crate::schema::product_name)]
    pub name: String,
    #[schema(schema_with = crate::schema::unit_price_minor)]
    pub unit_price_minor: i64,
    #[schema(schema_with = crate::schema::currency)]
    pub currency: String,
    /// Units held by open orders are not counted here: they are reserved already and come back
    /// if an order fails.
    #[schema(schema_with = crate::schema::stock)]
    pub stock: i64,
}

impl CatalogueEntry {
    /// The inventory item, or every problem with the entry's fields (named as in the entry).
    pub fn validate(self) -> Result<InventoryItem, ValidationErrors> {
        let mut errors = Vec::new();
        let mut problem = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            });
        };
        let sku = Sku::try_from(self.sku)
            .map_err(|error| problem("sku", error.to_string()))
            .ok();
        let name = self.name.trim().to_owned();
        let name_chars = name.chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS {
            problem(
                "name",
                format!("a name is 1 to {MAX_NAME_CHARS} characters"),
            );
        }
        if name.chars().any(char::is_control) {
            problem("name", "a name has no control characters".to_owned());
        }
        let unit_price_minor = u64::try_from(self.unit_price_minor)
            .ok()
            .filter(|price| *price <= MAX_UNIT_PRICE_MINOR);
        if unit_price_minor.is_none() {
            problem(
                "unit_price_minor",
                format!("a unit price is 0 to {MAX_UNIT_PRICE_MINOR} minor units"),
            );
        }
        let currency = Currency::try_from(self.currency)
            .map_err(|error| problem("currency", error.to_string()))
            .ok();
        let stock = u32::try_from(self.stock)
            .ok()
            .filter(|stock| *stock <= MAX_STOCK);
        if stock.is_none() {
            problem("stock", format!("stock is 0 to {MAX_STOCK} units"));
        }
        match (sku, unit_price_minor, currency, stock) {
            (Some(sku), Some(unit_price_minor), Some(currency), Some(stock))
                if errors.is_empty() =>
            {
                Ok(InventoryItem {
                    sku,
                    name,
                    unit_price_minor,
                    currency,
                    stock,
                })
            }
            _ => Err(ValidationErrors(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CatalogueEntry {
        CatalogueEntry {
            sku: "SKU-1".to_owned(),
            name: " Keyboard ".to_owned(),
            unit_price_minor: 8999,
            currency: "USD".to_owned(),
            stock: 25,
        }
    }

    #[test]
    fn a_valid_entry_becomes_an_item_with_its_name_trimmed() {
        let item = entry().validate().unwrap();
        assert_eq!(item.sku.as_str(), "SKU-1");
        assert_eq!(item.name, "Keyboard");
        assert_eq!((item.unit_price_minor, item.stock), (8999, 25));
        assert_eq!(item.currency.as_str(), "USD");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = CatalogueEntry {
            sku: "no spaces allowed".to_owned(),
            name: "  ".to_owned(),
            unit_price_minor: -1,
            currency: "usd".to_owned(),
            stock: -5,
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["sku", "name", "unit_price_minor", "currency", "stock"]
        );
    }

    #[test]
    fn limits_are_inclusive() {
        let at_limits = CatalogueEntry {
            unit_price_minor: MAX_UNIT_PRICE_MINOR as i64,
            stock: i64::from(MAX_STOCK),
            name: "x".repeat(MAX_NAME_CHARS),
            ..entry()
        };
        assert!(at_limits.clone().validate().is_ok());
        for over in [
            CatalogueEntry {
                unit_price_minor: at_limits.unit_price_minor + 1,
                ..at_limits.clone()
            },
            CatalogueEntry {
                stock: at_limits.stock + 1,
                ..at_limits.clone()
            },
            CatalogueEntry {
                name: "x".repeat(MAX_NAME_CHARS + 1),
                ..at_limits.clone()
            },
        ] {
            assert!(over.validate().is_err());
        }
    }
}
