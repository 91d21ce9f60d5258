//! Validation of what a client asks for, with messages that name the field and say what to fix.

use crate::ids::Sku;
use crate::inventory::InventoryItem;
use crate::order::{Currency, OrderItem};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

pub const MAX_ITEMS: usize = 50;
pub const MAX_QUANTITY: i64 = 1000;
/// The longest Idempotency-Key accepted (visible ASCII, so characters are bytes).
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// 1 to [`MAX_IDEMPOTENCY_KEY_CHARS`] visible ASCII characters.
pub fn is_well_formed_idempotency_key(key: &str) -> bool {
    (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The body of `POST /api/orders`. Prices are not part of it: the server prices every line
/// from the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    #[schema(schema_with = crate::schema::requested_items)]
    pub items: Vec<RequestedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedItem {
    #[schema(schema_with = crate::schema::sku)]
    pub sku: String,
    #[schema(schema_with = crate::schema::quantity)]
    #[serde(deserialize_with = "whole_number")]
    pub quantity: i64,
}

/// One problem with one field, e.g. `items[2].quantity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every problem found in a request, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let described: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&described.join("; "))
    }
}

impl ValidationErrors {
    fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// A request whose shape is valid: 1 to 50 distinct well-formed SKUs, each with a quantity of
/// 1 to 1000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLines(pub Vec<(Sku, u32)>);

impl RequestedLines {
    pub fn skus(&self) -> Vec<Sku> {
        self.0.iter().map(|(sku, _)| sku.clone()).collect()
    }
}

/// Checks what can be checked without the inventory.
pub fn check_shape(request: &CreateOrderRequest) -> Result<RequestedLines, ValidationErrors> {
    if request.items.is_empty() {
        return Err(ValidationErrors::single(
            "items",
            "an order needs at least one item",
        ));
    }
    if request.items.len() > MAX_ITEMS {
        return Err(ValidationErrors::single(
            "items",
            format!(
                "an order has at most {MAX_ITEMS} items, this one has {}",
                request.items.len()
            ),
        ));
    }
    let mut errors = Vec::new();
    let mut lines = Vec::with_capacity(request.items.len());
    let mut seen = HashSet::new();
    for (index, item) in request.items.iter().enumerate() {
        let sku = match item.sku.parse::<Sku>() {
            Ok(sku) => Some(sku),
            Err(e) => {
                errors.push(FieldError {
                    field: format!("items[{index}].sku"),
                    message: e.to_string(),
                });
                None
            }
        };
        if let Some(sku) = &sku
            && !seen.insert(sku.clone())
        {
            errors.push(FieldError {
                field: format!("items[{index}].sku"),
                message: format!("{sku} is listed twice; give it once with the total quantity"),
            });
        }
        let quantity = u32::try_from(item.quantity)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(&i64::from(*q)));
        if quantity.is_none() {
            errors.push(FieldError {
                field: format!("items[{index}].quantity"),
                message: format!(
                    "quantity must be 1 to {MAX_QUANTITY}, got {}",
                    item.quantity
                ),
            });
        }
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            lines.push((sku, quantity));
        }
    }
    if errors.is_empty() {
        Ok(RequestedLines(lines))
    } else {
        Err(ValidationErrors(errors))
    }
}

/// An order's lines priced from the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLines {
    pub items: Vec<OrderItem>,
    pub currency: Currency,
    pub total_minor: u64,
}

/// Prices each line from `inventory`; every SKU must be known, share one currency, and the total
/// must fit in 64 bits.
pub fn price(
    lines: &RequestedLines,
    inventory: &[InventoryItem],
) -> Result<PricedLines, ValidationErrors> {
    let by_sku: HashMap<&Sku, &InventoryItem> = inventory.iter().map(|i| (&i.sku, i)).collect();
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(lines.0.len());
    let mut currency: Option<&Currency> = None;
    let mut total: Option<u64> = Some(0);
    for (index, (sku, quantity)) in lines.0.iter().enumerate() {
        let Some(item) = by_sku.get(sku) else {
            errors.push(FieldError {
                field: format!("items[{index}].sku"),
                message: format!("there is no product {sku}"),
            });
            continue;
        };
        match currency {
            None => currency = Some(&item.currency),
            Some(first) if *first != item.currency => errors.push(FieldError {
                field: format!("items[{index}].sku"),
                message: format!(
                    "{sku} is priced in {}, the rest of the order in {}; order them separately",
                    item.currency.as_str(),
                    first.as_str()
                ),
            }),
            Some(_) => {}
        }
        total = total
            .and_then(|t| t.checked_add(item.unit_price_minor.checked_mul(u64::from(*quantity))?));
        items.push(OrderItem {
            sku: sku.clone(),
            quantity: *quantity,
            unit_price_minor: item.unit_price_minor,
        });
    }
    if total.is_none() {
        errors.push(FieldError {
            field: "items".into(),
            message: "the order total is too large to represent; order fewer units".into(),
        });
    }
    match (errors.is_empty(), currency, total) {
        (true, Some(currency), Some(total_minor)) => Ok(PricedLines {
            items,
            currency: currency.clone(),
            total_minor,
        }),
        _ => Err(ValidationErrors(errors)),
    }
}

/// An integer field of a JSON body. JSON has one number type, and JSON Schema's `integer` is
/// any number with a zero fractional part, so `3.0` is the integer 3 here too; `3.5` is refused
/// as not an integer, which names the field like any other type error.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct WholeNumber;

    impl serde::de::Visitor<'_> for WholeNumber {
        type Value = i64;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an integer")
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<i64, E> {
            Ok(value)
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<i64, E> {
            i64::try_from(value).map_err(|_| E::custom("the integer is too large"))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<i64, E> {
            // 2^63 as f64 is exact; every whole f64 below it in magnitude converts exactly.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
                #[allow(clippy::cast_possible_truncation)]
                Ok(value as i64)
            } else {
                Err(E::invalid_type(serde::de::Unexpected::Float(value), &self))
            }
        }
    }

    deserializer.deserialize_any(WholeNumber)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(items: &[(&str, i64)]) -> CreateOrderRequest {
        CreateOrderRequest {
            items: items
                .iter()
                .map(|(sku, quantity)| RequestedItem {
                    sku: (*sku).into(),
                    quantity: *quantity,
                })
                .collect(),
        }
    }

    fn product(sku: &str, price: u64, currency: &str) -> InventoryItem {
        InventoryItem {
            sku: sku.parse().expect("test SKU"),
            name: sku.into(),
            unit_price_minor: price,
            currency: currency.parse().expect("test currency"),
            stock: 10,
        }
    }

    #[test]
    fn an_order_needs_one_to_fifty_items() {
        assert_eq!(check_shape(&request(&[])).unwrap_err().0[0].field, "items");
        let many: Vec<(String, i64)> = (0..51).map(|i| (format!("SKU-{i}"), 1)).collect();
        let many: Vec<(&str, i64)> = many.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        assert!(
            check_shape(&request(&many)).unwrap_err().0[0]
                .message
                .contains("at most 50")
        );
    }

    #[test]
    fn every_bad_field_is_reported_with_its_position() {
        let errors = check_shape(&request(&[("A", 0), ("bad sku", 1), ("B", 1001), ("A", 2)]))
            .unwrap_err()
            .0;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[0].quantity",
                "items[1].sku",
                "items[2].quantity",
                "items[3].sku"
            ]
        );
    }

    #[test]
    fn unknown_skus_and_mixed_currencies_are_refused() {
        let lines = check_shape(&request(&[("A", 1), ("B", 1), ("GHOST", 1)])).expect("shape");
        let errors = price(
            &lines,
            &[product("A", 100, "USD"), product("B", 100, "EUR")],
        )
        .unwrap_err()
        .0;
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("EUR"));
        assert!(errors[1].message.contains("no product GHOST"));
    }

    #[test]
    fn totals_that_would_overflow_are_refused() {
        let lines = check_shape(&request(&[("A", 1000), ("B", 1)])).expect("shape");
        let result = price(
            &lines,
            &[product("A", u64::MAX / 999, "USD"), product("B", 1, "USD")],
        );
        assert!(result.unwrap_err().to_string().contains("too large"));
    }

    proptest! {
        #[test]
        fn the_total_is_the_sum_of_the_lines(quantities in proptest::collection::vec((1i64..=1000, 0u64..1_000_000), 1..=50)) {
            let skus: Vec<String> = (0..quantities.len()).map(|i| format!("SKU-{i}")).collect();
            let req = request(&skus.iter().zip(&quantities).map(|(s, (q, _))| (s.as_str(), *q)).collect::<Vec<_>>());
            let inventory: Vec<InventoryItem> = skus.iter().zip(&quantities).map(|(s, (_, p))| product(s, *p, "USD")).collect();
            let priced = price(&check_shape(&req).expect("valid shape"), &inventory).expect("priced");
            let expected: u64 = quantities.iter().map(|(q, p)| *q as u64 * p).sum();
            prop_assert_eq!(priced.total_minor, expected);
            prop_assert_eq!(priced.items.len(), quantities.len());
        }
    }
}
