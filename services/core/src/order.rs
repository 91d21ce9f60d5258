//! Orders and the state machine of their status.

use crate::ids::{OrderId, Sku, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Where an order is in its life. Only the transitions of [`OrderStatus::can_become`] exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Processing,
    Confirmed,
    Failed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        Self::Pending,
        Self::Processing,
        Self::Confirmed,
        Self::Failed,
    ];

    /// PENDING -> PROCESSING -> CONFIRMED, and any unfinished order may fail.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Processing)
                | (Processing, Confirmed)
                | (Pending, Failed)
                | (Processing, Failed)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Confirmed => "CONFIRMED",
            Self::Failed => "FAILED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct UnknownStatus(pub String);

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "USD")]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a currency is a three-letter upper-case ISO 4217 code such as USD")]
pub struct InvalidCurrency;

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(value))
        } else {
            Err(InvalidCurrency)
        }
    }
}

impl std::str::FromStr for Currency {
    type Err = InvalidCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

/// One line of an order, priced when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    pub sku: Sku,
    pub quantity: u32,
    /// Price of one unit in minor units (cents) of the order's currency.
    pub unit_price_minor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub items: Vec<OrderItem>,
    pub currency: Currency,
    /// Sum of quantity x unit price over all items, in minor units; validated not to overflow.
    pub total_minor: u64,
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    pub idempotency_key: Option<String>,
    /// Storage key of the PDF receipt once the receipt processor has written it.
    pub receipt_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn an_order_moves_forward_only() {
        assert!(Pending.can_become(Processing));
        assert!(Processing.can_become(Confirmed));
        assert!(!Confirmed.can_become(Pending));
        assert!(!Pending.can_become(Confirmed));
        assert!(!Failed.can_become(Processing));
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in OrderStatus::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(OrderStatus::ALL.into_iter().all(|to| !from.can_become(to)));
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
        }
        assert!("SHIPPED".parse::<OrderStatus>().is_err());
    }
}
