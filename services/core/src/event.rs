//! Events: the record of every state change, the order history, the dashboard feed and what the
//! outbox publishes to the bus.

use crate::ids::{EventId, OrderId, UserId};
use crate::trace::TraceContext;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use time::OffsetDateTime;

/// The kind of an event, in `noun.verb` form (`order.created`). External events accepted by the
/// ingest endpoint may use their own names in the same form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventType(Cow<'static, str>);

/// The length of an event type, in characters (all ASCII).
pub const EVENT_TYPE_CHARS: std::ops::RangeInclusive<usize> = 3..=64;

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        crate::schema::event_type()
    }
}

impl utoipa::ToSchema for EventType {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventType")
    }
}

impl EventType {
    pub const ORDER_CREATED: Self = Self::known("order.created");
    pub const ORDER_VALIDATED: Self = Self::known("order.validated");
    pub const INVENTORY_RESERVED: Self = Self::known("inventory.reserved");
    pub const PAYMENT_CHARGED: Self = Self::known("payment.charged");
    pub const PAYMENT_DECLINED: Self = Self::known("payment.declined");
    pub const ORDER_CONFIRMED: Self = Self::known("order.confirmed");
    pub const INVENTORY_RELEASED: Self = Self::known("inventory.released");
    pub const ORDER_FAILED: Self = Self::known("order.failed");
    pub const RECEIPT_GENERATED: Self = Self::known("receipt.generated");
    pub const EMAIL_SENT: Self = Self::known("email.sent");
    /// No email could be sent: the customer has no verified address (the reason says which).
    pub const EMAIL_SKIPPED: Self = Self::known("email.skipped");
    pub const WEBHOOK_DELIVERED: Self = Self::known("webhook.delivered");
    pub const WEBHOOK_FAILED: Self = Self::known("webhook.failed");

    /// The namespaces (the part before the first dot) of the events the platform itself
    /// records. Rules act on these (an `order.created` starts a saga, an `order.confirmed` sends
    /// an email), so an outside system may not ingest events in them.
    pub const PLATFORM_NAMESPACES: [&'static str; 7] = [
        "order",
        "inventory",
        "payment",
        "receipt",
        "email",
        "webhook",
        "message",
    ];

    const fn known(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the type is in one of the [`Self::PLATFORM_NAMESPACES`].
    pub fn is_platform_owned(&self) -> bool {
        let namespace = self.0.split('.').next().unwrap_or_default();
        Self::PLATFORM_NAMESPACES.contains(&namespace)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an event type is 3 to 64 characters of lower-case letters, digits, '_' and '-', \
     in at least two dot-separated parts such as \"payment.settled\""
)]
pub struct InvalidEventType;

impl TryFrom<String> for EventType {
    type Error = InvalidEventType;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let parts_ok = value.split('.').count() >= 2
            && value.split('.').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    })
            });
        if EVENT_TYPE_CHARS.contains(&value.len()) && parts_ok {
            Ok(Self(Cow::Owned(value)))
        } else {
            Err(InvalidEventType)
        }
    }
}

impl std::str::FromStr for EventType {
    type Err = InvalidEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<EventType> for String {
    fn from(event_type: EventType) -> Self {
        event_type.0.into_owned()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something that happened. Written in the same transaction as the state change it records, and
/// never changed afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub order_id: Option<OrderId>,
    pub user_id: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// Event-specific data, e.g. the order lines or the decline reason.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The span that caused this event (W3C `traceparent`); work done because of the event
    /// continues this trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "00-6745a1b2c3d4e5f6a7b8c9d0e1f2a3b4-1a2b3c4d5e6f7a8b-01")]
    pub trace: Option<TraceContext>,
}

impl Event {
    /// A new event about `order_id` owned by `user_id`, stamped at `at` (millisecond precision, so
    /// that it survives every storage backend unchanged).
    pub fn about_order(
        event_type: EventType,
        order_id: OrderId,
        user_id: UserId,
        at: OffsetDateTime,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            id: EventId::generate(),
            event_type,
            order_id: Some(order_id),
            user_id: Some(user_id),
            occurred_at: truncate_to_millis(at),
            detail,
            trace: None,
        }
    }

    /// The same event, caused by the span `trace`.
    pub fn caused_by(mut self, trace: Option<TraceContext>) -> Self {
        self.trace = trace;
        self
    }
}

/// Drops sub-millisecond precision: every backend stores milliseconds, and a value must read back
/// equal to what was written.
pub fn truncate_to_millis(at: OffsetDateTime) -> OffsetDateTime {
    let millis = at.millisecond();
    at.replace_millisecond(millis).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_event_types_must_be_dotted_lower_case() {
        assert!("payment.settled".parse::<EventType>().is_ok());
        assert!("shipment.label-printed.v2".parse::<EventType>().is_ok());
        assert!("Payment.Settled".parse::<EventType>().is_err());
        assert!("nodot".parse::<EventType>().is_err());
        assert!("a..b".parse::<EventType>().is_err());
    }

    #[test]
    fn known_event_types_pass_their_own_validation() {
        for known in [EventType::ORDER_CREATED, EventType::INVENTORY_RELEASED] {
            assert_eq!(known.as_str().parse::<EventType>(), Ok(known));
        }
    }

    #[test]
    fn the_platforms_own_types_are_platform_owned_and_outside_ones_are_not() {
        for known in [
            EventType::ORDER_CREATED,
            EventType::PAYMENT_DECLINED,
            EventType::RECEIPT_GENERATED,
            EventType::EMAIL_SENT,
            EventType::WEBHOOK_FAILED,
        ] {
            assert!(known.is_platform_owned(), "{known}");
        }
        assert!(
            "order.anything"
                .parse::<EventType>()
                .unwrap()
                .is_platform_owned()
        );
        for outside in ["shipment.dispatched", "orders.synced", "crm.order.noted"] {
            assert!(
                !outside.parse::<EventType>().unwrap().is_platform_owned(),
                "{outside}"
            );
        }
    }

    #[test]
    fn timestamps_keep_milliseconds_only() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.123456789 UTC);
        assert_eq!(
            truncate_to_millis(at),
            time::macros::datetime!(2026-01-02 03:04:05.123 UTC)
        );
    }
}
