//! The OpenAPI schemas of the fields this crate validates, built from the constants the
//! validation uses, so the document states every rule the server enforces and cannot drift from
//! it. Each is a `schema_with` function of a request type's field (`#[schema(schema_with = …)]`).
//!
//! Where a rule is a character set rather than a number (a SKU, a currency, a product name), the
//! pattern is written here beside the check; a property test reads the two as one (every string
//! the pattern accepts the check accepts, and the other way round).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Ref, RefOr, Schema};

use crate::event::EVENT_TYPE_CHARS;
use crate::ids::MAX_SKU_CHARS;
use crate::inventory::{MAX_NAME_CHARS, MAX_STOCK, MAX_UNIT_PRICE_MINOR};
use crate::validation::MAX_IDEMPOTENCY_KEY_CHARS;
use crate::validation::{MAX_ITEMS, MAX_QUANTITY};
use crate::webhook::MAX_WEBHOOK_EVENT_TYPES;

/// A SKU: 1 to [`MAX_SKU_CHARS`] of `A-Z a-z 0-9 . _ -`.
pub fn sku_pattern() -> String {
    format!("^[A-Za-z0-9._-]{{1,{MAX_SKU_CHARS}}}$")
}

/// An event type: dot-separated parts of `a-z 0-9 _ -`, at least two.
pub const EVENT_TYPE_PATTERN: &str = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)+$";

/// A currency: three upper-case ASCII letters.
pub const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";

/// A product name: no control character (`char::is_control`, Unicode's Cc), and something
/// besides white space (the name is trimmed).
pub const PRODUCT_NAME_PATTERN: &str =
    "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$";

/// A string described by `description`, matching `pattern` if any. Public for the rules that
/// live outside this crate (the development issuer's usernames).
pub fn string(description: &str, pattern: Option<String>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(description))
        .pattern(pattern)
}

/// An integer from `minimum` to `maximum`, both said in the description too (for readers of the
/// generated dashboard types, which keep descriptions only).
fn integer(description: &str, minimum: u64, maximum: u64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .description(Some(format!("{description}: {minimum} to {maximum}")))
        .minimum(Some(minimum))
        .maximum(Some(maximum))
}

pub fn sku() -> RefOr<Schema> {
    string(
        &format!("1 to {MAX_SKU_CHARS} characters of letters, digits, '.', '_' or '-'"),
        Some(sku_pattern()),
    )
    .examples(["SKU-KEYBOARD"])
    .into()
}

pub fn currency() -> RefOr<Schema> {
    string(
        "Three-letter upper-case ISO 4217 code",
        Some(CURRENCY_PATTERN.to_owned()),
    )
    .examples(["USD"])
    .into()
}

pub fn product_name() -> RefOr<Schema> {
    string(
        &format!("1 to {MAX_NAME_CHARS} characters, no control characters"),
        Some(PRODUCT_NAME_PATTERN.to_owned()),
    )
    .min_length(Some(1))
    .max_length(Some(MAX_NAME_CHARS))
    .examples(["Mechanical keyboard"])
    .into()
}

pub fn event_type() -> RefOr<Schema> {
    string(
        &format!(
            "{} to {} characters of lower-case letters, digits, '_' and '-', in at least two \
             dot-separated parts",
            EVENT_TYPE_CHARS.start(),
            EVENT_TYPE_CHARS.end()
        ),
        Some(EVENT_TYPE_PATTERN.to_owned()),
    )
    .min_length(Some(*EVENT_TYPE_CHARS.start()))
    .max_length(Some(*EVENT_TYPE_CHARS.end()))
    .examples(["order.created"])
    .into()
}

pub fn unit_price_minor() -> RefOr<Schema> {
    integer(
        "Price of one unit in the currency's minor unit (cents)",
        0,
        MAX_UNIT_PRICE_MINOR,
    )
    .examples([8999])
    .into()
}

pub fn stock() -> RefOr<Schema> {
    integer(
        "Units available to order. Units held by open orders are reserved already and not \
         counted",
        0,
        u64::from(MAX_STOCK),
    )
    .examples([25])
    .into()
}

pub fn quantity() -> RefOr<Schema> {
    integer("Units of the SKU", 1, MAX_QUANTITY.unsigned_abs()).into()
}

/// The lines of an order: 1 to [`MAX_ITEMS`], each SKU at most once.
pub fn requested_items() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("RequestedItem"))
        .description(Some(format!(
            "1 to {MAX_ITEMS} lines, each SKU at most once"
        )))
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS))
        .into()
}

/// A webhook's destination: an absolute https URL (of a public host: the server also refuses
/// private, loopback and metadata addresses, which no pattern states).
pub fn webhook_url() -> RefOr<Schema> {
    string(
        "An absolute https URL of a public host",
        Some("^https://[^\\s/?#@]+[^\\s]*$".to_owned()),
    )
    .format(Some(SchemaFormat::Custom("uri".to_owned())))
    .examples(["https://hooks.example.com/eventforge"])
    .into()
}

/// The event types a webhook wants: 1 to [`MAX_WEBHOOK_EVENT_TYPES`]; `null` for the default.
pub fn webhook_event_types() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(Ref::from_schema_name("EventType"))
        .description(Some(format!(
            "1 to {MAX_WEBHOOK_EVENT_TYPES} event types; defaults to `order.confirmed` and \
             `order.failed`"
        )))
        .min_items(Some(1))
        .max_items(Some(MAX_WEBHOOK_EVENT_TYPES))
        .into()
}

/// An Idempotency-Key: 1 to [`MAX_IDEMPOTENCY_KEY_CHARS`] visible ASCII characters
/// (`u8::is_ascii_graphic`: `!` to `~`).
pub fn idempotency_key_pattern() -> String {
    format!("^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_CHARS}}}$")
}

pub fn idempotency_key() -> RefOr<Schema> {
    string(
        &format!(
            "1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters; repeating a request with \
             the same key returns the first order instead of placing another"
        ),
        Some(idempotency_key_pattern()),
    )
    .into()
}

/// A page size: 1 to `max`.
pub fn page_limit(max: usize, default: usize) -> RefOr<Schema> {
    integer(
        &format!("Results per page, default {default}"),
        1,
        u64::try_from(max).unwrap_or(u64::MAX),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;
    use crate::event::EventType;
    use crate::ids::Sku;
    use crate::inventory::CatalogueEntry;
    use crate::order::Currency;
    use crate::validation::is_well_formed_idempotency_key;
    use crate::validation::{CreateOrderRequest, RequestedItem, check_shape};

    fn accepts(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).expect("a valid pattern").is_match(text)
    }

    fn name_accepted(name: &str) -> bool {
        CatalogueEntry {
            sku: "SKU-1".to_owned(),
            name: name.to_owned(),
            unit_price_minor: 1,
            currency: "USD".to_owned(),
            stock: 1,
        }
        .validate()
        .is_ok()
    }

    proptest! {
        #[test]
        fn the_sku_pattern_accepts_exactly_the_skus_the_server_accepts(
            text in "[A-Za-z0-9._@ é-]{0,70}"
        ) {
            prop_assert_eq!(accepts(&sku_pattern(), &text), text.parse::<Sku>().is_ok());
        }

        #[test]
        fn the_currency_pattern_accepts_exactly_the_currencies_the_server_accepts(
            text in "[A-Za-z0-9 É]{0,5}"
        ) {
            prop_assert_eq!(
                accepts(CURRENCY_PATTERN, &text),
                Currency::try_from(text.clone()).is_ok()
            );
        }

        #[test]
        fn the_event_type_schema_accepts_exactly_the_types_the_server_accepts(
            text in "[a-z0-9_.A-Z -]{0,70}"
        ) {
            let length_ok = EVENT_TYPE_CHARS.contains(&text.chars().count());
            prop_assert_eq!(
                length_ok && accepts(EVENT_TYPE_PATTERN, &text),
                EventType::try_from(text.clone()).is_ok()
            );
        }

        #[test]
        fn the_idempotency_key_pattern_accepts_exactly_the_keys_the_server_accepts(
            text in "[ -~\t é]{0,300}"
        ) {
            prop_assert_eq!(
                accepts(&idempotency_key_pattern(), &text),
                is_well_formed_idempotency_key(&text)
            );
        }

        /// The schema may be stricter than the check (it counts the name before trimming), never
        /// looser: a name it accepts, the server accepts.
        #[test]
        fn a_product_name_the_schema_accepts_the_server_accepts(
            text in "\\PC{0,210}|[ a\t\u{7f}\u{85}\u{2028}]{0,5}"
        ) {
            let length_ok = (1..=MAX_NAME_CHARS).contains(&text.chars().count());
            if length_ok && accepts(PRODUCT_NAME_PATTERN, &text) {
                prop_assert!(name_accepted(&text), "{text:?}");
            }
        }

        /// Lines within the schema's limits, with distinct SKUs, pass the server's shape check.
        #[test]
        fn an_order_within_the_schema_passes_the_shape_check(
            skus in proptest::collection::btree_set("[A-Za-z0-9._-]{1,64}", 1..=MAX_ITEMS),
            quantity in 1..=MAX_QUANTITY,
        ) {
            let request = CreateOrderRequest {
                items: skus
                    .into_iter()
                    .map(|sku| RequestedItem { sku, quantity })
                    .collect(),
            };
            prop_assert!(check_shape(&request).is_ok());
        }
    }
}
