//! Builders for the values the specifications store.

use eventforge_core::event::{Event, EventType};
use eventforge_core::ids::{OrderId, Sku, UserId, WebhookId};
use eventforge_core::inventory::{InventoryItem, StockLine};
use eventforge_core::order::{Order, OrderItem, OrderStatus};
use eventforge_core::store::{CreateOutcome, IdempotencyClaim, Store};
use eventforge_core::webhook::Webhook;
use time::OffsetDateTime;

/// A fixed instant plus `offset_ms`: lets specifications order records by time deterministically.
pub fn at(offset_ms: i64) -> OffsetDateTime {
    time::macros::datetime!(2026-11-24 12:00:00 UTC) + time::Duration::milliseconds(offset_ms)
}

pub fn user(name: &str) -> UserId {
    UserId(format!("user-{name}"))
}

pub fn sku(name: &str) -> Sku {
    name.parse().expect("fixture SKUs are well formed")
}

pub fn product(name: &str, stock: u32) -> InventoryItem {
    InventoryItem {
        sku: sku(name),
        name: format!("Product {name}"),
        unit_price_minor: 1_999,
        currency: "USD".parse().expect("fixture currency"),
        stock,
    }
}

pub fn line(name: &str, quantity: u32) -> StockLine {
    StockLine {
        sku: sku(name),
        quantity,
    }
}

/// A PENDING order of one unit of `SKU-A` placed at `at(offset_ms)`.
pub fn order(owner: &UserId, offset_ms: i64) -> Order {
    Order {
        id: OrderId::generate(),
        user_id: owner.clone(),
        items: vec![OrderItem {
            sku: sku("SKU-A"),
            quantity: 1,
            unit_price_minor: 1_999,
        }],
        currency: "USD".parse().expect("fixture currency"),
        total_minor: 1_999,
        status: OrderStatus::Pending,
        created_at: at(offset_ms),
        updated_at: at(offset_ms),
        idempotency_key: None,
        receipt_key: None,
    }
}

pub fn event_for(order: &Order, event_type: EventType, offset_ms: i64) -> Event {
    Event::about_order(
        event_type,
        order.id,
        order.user_id.clone(),
        at(offset_ms),
        serde_json::json!({ "status": order.status }),
    )
}

pub fn created_event(order: &Order) -> Event {
    event_for(order, EventType::ORDER_CREATED, 0)
}

pub fn claim(key: &str, fingerprint: &str) -> IdempotencyClaim {
    IdempotencyClaim {
        key: key.into(),
        request_fingerprint: fingerprint.into(),
        expires_at: at(86_400_000),
    }
}

/// Stores a new order placed `offset_ms` after the fixed instant and returns it.
pub async fn stored_order(store: &dyn Store, owner: &UserId, offset_ms: i64) -> Order {
    let order = order(owner, offset_ms);
    let outcome = store
        .create_order(
            &order,
            &event_for(&order, EventType::ORDER_CREATED, offset_ms),
            None,
        )
        .await
        .expect("create order");
    assert_eq!(outcome, CreateOutcome::Created(order.clone()));
    order
}

pub fn webhook(owner: &UserId, url: &str, offset_ms: i64) -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        user_id: owner.clone(),
        url: url.into(),
        event_types: vec![EventType::ORDER_CONFIRMED],
        secret: "whsec_fixture".into(),
        created_at: at(offset_ms),
    }
}
