//! Page cursors of `list_orders`: the position of the last order of a page and the user it was
//! issued to, as JSON in URL-safe base64. A cursor that does not decode, or was issued to another
//! user, is [`StoreError::InvalidCursor`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_core::ids::UserId;
use eventforge_core::order::Order;
use eventforge_core::store::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct After {
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "c")]
    pub created_ms: i64,
    #[serde(rename = "o")]
    pub order_id: String,
}

pub(crate) fn encode(user: &UserId, last: &Order) -> String {
    let after = After {
        user: user.0.clone(),
        created_ms: crate::millis(last.created_at),
        order_id: last.id.to_string(),
    };
    // Serialising three plain fields cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&after).unwrap_or_default())
}

pub(crate) fn decode(cursor: &str, user: &UserId) -> Result<After, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let after: After = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let order_id_well_formed = after
        .order_id
        .parse::<eventforge_core::ids::OrderId>()
        .is_ok();
    if after.user != user.0 || !order_id_well_formed {
        return Err(StoreError::InvalidCursor);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::ids::OrderId;
    use eventforge_core::order::OrderStatus;

    fn order(user: &UserId) -> Order {
        let at = time::macros::datetime!(2026-11-24 12:00 UTC);
        Order {
            id: OrderId::generate(),
            user_id: user.clone(),
            items: Vec::new(),
            currency: "USD".parse().expect("currency"),
            total_minor: 0,
            status: OrderStatus::Pending,
            created_at: at,
            updated_at: at,
            idempotency_key: None,
            receipt_key: None,
        }
    }

    #[test]
    fn a_cursor_decodes_for_the_user_it_was_issued_to() {
        let alice = UserId("alice".into());
        let last = order(&alice);
        let after = decode(&encode(&alice, &last), &alice).expect("valid");
        assert_eq!(after.order_id, last.id.to_string());
    }

    #[test]
    fn a_cursor_of_another_user_is_invalid() {
        let alice = UserId("alice".into());
        let bob = UserId("bob".into());
        let cursor = encode(&alice, &order(&alice));
        assert!(matches!(
            decode(&cursor, &bob),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn garbage_is_invalid() {
        let alice = UserId("alice".into());
        for forged in [
            "",
            "!!!",
            "bm90IGpzb24",
            "eyJ1IjoiYWxpY2UiLCJjIjoxLCJvIjoieCJ9",
        ] {
            assert!(
                matches!(decode(forged, &alice), Err(StoreError::InvalidCursor)),
                "{forged}"
            );
        }
    }
}
