//! Identifiers. Each is its own type so an order id can never be passed where an event id is
//! expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies an order.
    OrderId
);
uuid_id!(
    /// Identifies an event; consumers use it to process each event at most once.
    EventId
);
uuid_id!(
    /// Identifies a registered webhook.
    WebhookId
);

/// The authenticated user's id: the `sub` claim of their token.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest SKU accepted.
pub const MAX_SKU_CHARS: usize = 64;

/// A stock-keeping unit: 1 to [`MAX_SKU_CHARS`] characters of `A-Z a-z 0-9 . _ -`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "SKU-KEYBOARD")]
pub struct Sku(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SKU is 1 to 64 characters of letters, digits, '.', '_' or '-'")]
pub struct InvalidSku;

impl Sku {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = InvalidSku;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let well_formed = (1..=MAX_SKU_CHARS).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if well_formed {
            Ok(Self(value))
        } else {
            Err(InvalidSku)
        }
    }
}

impl FromStr for Sku {
    type Err = InvalidSku;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> Self {
        sku.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_accept_letters_digits_and_separators_only() {
        assert!("SKU-1_a.b".parse::<Sku>().is_ok());
        assert!("".parse::<Sku>().is_err());
        assert!("has space".parse::<Sku>().is_err());
        assert!("x".repeat(65).parse::<Sku>().is_err());
    }

    #[test]
    fn generated_order_ids_sort_by_creation_time() {
        let first = OrderId::generate();
        let second = OrderId::generate();
        assert!(first < second);
    }
}
