//! Page cursors of `list_orders`: the key of the last order of a page (all four key attributes
//! are strings), as JSON in URL-safe base64. A cursor is checked before use, so a forged or
//! foreign one is [`StoreError::InvalidCursor`] rather than a DynamoDB error or another user's
//! page.

use crate::error::DynamoError;
use crate::item::{self, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_core::store::StoreError;
use eventforge_core::table_schema::{PARTITION_KEY, SORT_KEY, USER_INDEX};
use std::collections::BTreeMap;

const KEY_ATTRIBUTES: [&str; 4] = [
    PARTITION_KEY,
    SORT_KEY,
    USER_INDEX.partition_key,
    USER_INDEX.sort_key,
];

/// The cursor that continues a listing after `last` (an order item or a LastEvaluatedKey).
pub(crate) fn encode(last: &Item) -> Result<String, DynamoError> {
    let key = KEY_ATTRIBUTES
        .iter()
        .map(|name| Ok((*name, item::string(last, name)?)))
        .collect::<Result<BTreeMap<&str, &str>, DynamoError>>()?;
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key)?))
}

/// The ExclusiveStartKey a cursor stands for, if it is a cursor over `user_partition`'s orders.
pub(crate) fn decode(cursor: &str, user_partition: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let key: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let well_formed = key.len() == KEY_ATTRIBUTES.len()
        && KEY_ATTRIBUTES.iter().all(|name| key.contains_key(*name))
        && key[USER_INDEX.partition_key] == user_partition
        && key[USER_INDEX.sort_key].starts_with(item::ORDER_PREFIX)
        && key[PARTITION_KEY].starts_with(item::ORDER_PREFIX)
        && key[SORT_KEY] == "ORDER";
    if !well_formed {
        return Err(StoreError::InvalidCursor);
    }
    Ok(key
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::ids::{OrderId, UserId};
    use eventforge_core::order::{Order, OrderStatus};

    fn order_item(user: &str) -> Item {
        let at = time::macros::datetime!(2026-11-24 12:00 UTC);
        item::order_item(&Order {
            id: OrderId::generate(),
            user_id: UserId(user.into()),
            items: vec![],
            currency: "USD".parse().expect("currency"),
            total_minor: 0,
            status: OrderStatus::Pending,
            created_at: at,
            updated_at: at,
            idempotency_key: None,
            receipt_key: None,
        })
        .expect("item")
    }

    #[test]
    fn a_cursor_decodes_to_the_key_it_was_made_from() {
        let last = order_item("alice");
        let cursor = encode(&last).expect("cursor");
        let start = decode(&cursor, "USER#alice").expect("decodes");
        for name in KEY_ATTRIBUTES {
            assert_eq!(start.get(name), last.get(name));
        }
        assert_eq!(start.len(), 4);
    }

    #[test]
    fn another_users_cursor_is_invalid() {
        let cursor = encode(&order_item("alice")).expect("cursor");
        assert!(matches!(
            decode(&cursor, "USER#bob"),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn garbage_is_invalid() {
        for garbage in [
            "",
            "not-a-cursor!",
            "e30",
            "W10",
            &URL_SAFE_NO_PAD.encode(b"{\"PK\":1}"),
        ] {
            assert!(
                matches!(
                    decode(garbage, "USER#alice"),
                    Err(StoreError::InvalidCursor)
                ),
                "{garbage:?}"
            );
        }
    }
}
