//! The storage contract. Every backend (SQLite, DynamoDB) implements [`Store`] and passes the one
//! conformance suite in `eventforge-store-conformance`.
//!
//! Two rules hold for every method that changes state:
//! - the change and its [`Event`] are written in one transaction, and the event also enters the
//!   outbox in that transaction (nothing can be lost between the write and the publish);
//! - conditions are checked by the database inside that transaction (stock never below zero,
//!   status only from the expected state), never by a read followed by a write.

use crate::event::Event;
use crate::ids::{EventId, OrderId, Sku, UserId, WebhookId};
use crate::inventory::{InventoryItem, StockLine};
use crate::order::{Order, OrderStatus};
use crate::webhook::Webhook;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Most orders one page returns.
pub const MAX_PAGE_SIZE: usize = 50;
/// Most events the recent feed returns.
pub const MAX_RECENT_EVENTS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("order {0} does not exist")]
    OrderNotFound(OrderId),
    #[error("order {id} is {actual}, not {expected}")]
    StatusConflict {
        id: OrderId,
        expected: OrderStatus,
        actual: OrderStatus,
    },
    #[error("not enough stock of {sku}: {requested} requested, {available} available")]
    InsufficientStock {
        sku: Sku,
        requested: u32,
        available: u32,
    },
    #[error("no inventory item {0}")]
    UnknownSku(Sku),
    #[error("the Idempotency-Key was already used for a different request (order {existing})")]
    IdempotencyKeyReused { existing: OrderId },
    #[error("webhook {0} does not exist")]
    WebhookNotFound(WebhookId),
    #[error("the page cursor is not one this server issued")]
    InvalidCursor,
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a listing, newest first, with an opaque cursor to the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items may follow; pass it back unchanged to get them.
    pub next_cursor: Option<String>,
}

/// The Idempotency-Key of a create request and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: String,
    pub request_fingerprint: String,
    /// After this instant the backend may forget the claim (DynamoDB's time-to-live does).
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// The order is new.
    Created(Order),
    /// The same request came with the same Idempotency-Key before: this is that order, unchanged.
    Replayed(Order),
}

impl CreateOutcome {
    pub fn order(&self) -> &Order {
        match self {
            Self::Created(order) | Self::Replayed(order) => order,
        }
    }

    pub fn into_order(self) -> Order {
        match self {
            Self::Created(order) | Self::Replayed(order) => order,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved,
    /// This order reserved (or reserved and released) before; nothing changed. Makes retries safe.
    AlreadyReserved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// These lines went back into stock.
    Released(Vec<StockLine>),
    /// Nothing was reserved, or it was released before; nothing changed.
    NothingReserved,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Writes a new order, its `order.created` event and (if given) the idempotency claim, in one
    /// transaction. A claim already held by the same user with the same fingerprint yields
    /// [`CreateOutcome::Replayed`] with the original order; with another fingerprint,
    /// [`StoreError::IdempotencyKeyReused`].
    async fn create_order(
        &self,
        order: &Order,
        created: &Event,
        idempotency: Option<&IdempotencyClaim>,
    ) -> StoreResult<CreateOutcome>;

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>>;

    /// Every event about the order, oldest first.
    async fn order_history(&self, id: OrderId) -> StoreResult<Vec<Event>>;

    /// The order and its history (as [`Store::get_order`] and [`Store::order_history`]) in one
    /// read: one DynamoDB query of the order's partition instead of a request for each, which
    /// halves the round trips of `GET /api/orders/{id}` on AWS.
    async fn order_with_history(&self, id: OrderId) -> StoreResult<Option<(Order, Vec<Event>)>>;

    /// The user's orders, newest first; `limit` is clamped to 1..=[`MAX_PAGE_SIZE`].
    async fn list_orders(
        &self,
        user: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Order>>;

    /// Moves the order from `from` to `to` (stamping `updated_at` with the event's time) and
    /// records `event`, only if it is still in `from`.
    async fn transition_order(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        event: &Event,
    ) -> StoreResult<Order>;

    /// Takes every line out of stock, or none of them if any line lacks stock.
    async fn reserve_stock(
        &self,
        order_id: OrderId,
        lines: &[StockLine],
        event: &Event,
    ) -> StoreResult<ReserveOutcome>;

    /// Puts back what the order reserved, once.
    async fn release_stock(&self, order_id: OrderId, event: &Event) -> StoreResult<ReleaseOutcome>;

    /// Records an event that changes no other state. Appending an event id that exists is a no-op.
    async fn append_event(&self, event: &Event) -> StoreResult<()>;

    /// The user's most recent events, newest first; `limit` is clamped to 1..=[`MAX_RECENT_EVENTS`].
    async fn recent_events(&self, user: &UserId, limit: usize) -> StoreResult<Vec<Event>>;

    /// Creates or replaces an inventory item.
    async fn put_inventory(&self, item: &InventoryItem) -> StoreResult<()>;

    /// The items that exist among `skus`, in no particular order.
    async fn get_inventory(&self, skus: &[Sku]) -> StoreResult<Vec<InventoryItem>>;

    /// Every inventory item, by SKU.
    async fn list_inventory(&self) -> StoreResult<Vec<InventoryItem>>;

    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()>;

    /// The user's webhooks, oldest first.
    async fn list_webhooks(&self, user: &UserId) -> StoreResult<Vec<Webhook>>;

    /// Deletes the user's webhook; another user's webhook is [`StoreError::WebhookNotFound`].
    async fn delete_webhook(&self, user: &UserId, id: WebhookId) -> StoreResult<()>;

    /// Records where the order's receipt is stored, with its event.
    async fn attach_receipt(&self, order_id: OrderId, key: &str, event: &Event) -> StoreResult<()>;

    /// Events not yet published to the bus, oldest first.
    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<Event>>;

    /// Takes published events out of the outbox. Unknown or already published ids are ignored.
    async fn mark_published(&self, ids: &[EventId]) -> StoreResult<()>;
}

/// Clamps a requested page size to what a listing may return.
pub fn clamp_limit(limit: usize, max: usize) -> usize {
    limit.clamp(1, max)
}
