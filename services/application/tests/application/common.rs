//! What the handlers' specifications share: a real SQLite store stocked with one product, and
//! the local runtime on an accelerated clock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eventforge_application::commands::place_order;
use eventforge_application::webhook::{ReqwestTransport, RetryPolicy, WebhookDeps};
use eventforge_core::clock::SystemClock;
use eventforge_core::event::EventType;
use eventforge_core::ids::WebhookId;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::{UrlPolicy, Webhook};
use eventforge_core::{Event, InventoryItem, Store, UserId};
use eventforge_local::{RuntimeConfig, TimeScale};
use eventforge_store_sqlite::SqliteStore;

/// The product the specifications order: 329.00 EUR, so 16 or more exceed the simulated card
/// limit of 5,000.00.
pub const SKU: &str = "MONITOR-27";

/// A store in `dir/dev.db` holding `stock` of [`SKU`].
pub async fn monitor_store(dir: &Path, stock: u32) -> Arc<dyn Store> {
    let sqlite = SqliteStore::open(dir.join("dev.db")).unwrap();
    sqlite
        .put_inventory(&InventoryItem {
            sku: SKU.parse().unwrap(),
            name: "Monitor".into(),
            unit_price_minor: 32_900,
            currency: "EUR".parse().unwrap(),
            stock,
        })
        .await
        .unwrap();
    Arc::new(sqlite)
}

/// The `order.created` event of an order `user` places in `store` after registering a webhook
/// for it at each of `urls`: what the webhook processor is handed.
pub async fn order_created_for_webhooks(
    store: &dyn Store,
    user: &UserId,
    urls: &[String],
) -> Event {
    for url in urls {
        store
            .create_webhook(&Webhook {
                id: WebhookId::generate(),
                user_id: user.clone(),
                url: url.clone(),
                event_types: vec![EventType::ORDER_CREATED],
                secret: "whsec-test".into(),
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
    }
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: SKU.into(),
            quantity: 1,
        }],
    };
    let order = place_order(store, &SystemClock, user, &request, None, None)
        .await
        .unwrap()
        .into_order();
    store.order_history(order.id).await.unwrap().remove(0)
}

/// The webhook processor on `store` delivering to loopback receivers, one attempt per
/// processing: each retry is a redelivery of the message.
pub fn loopback_webhooks(store: Arc<dyn Store>) -> WebhookDeps {
    WebhookDeps {
        store,
        clock: Arc::new(SystemClock),
        transport: Arc::new(ReqwestTransport),
        policy: UrlPolicy::AllowLoopback,
        retry: RetryPolicy {
            attempts: 1,
            first_backoff: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
        },
    }
}

/// `config` with delays (retry backoffs, redelivery) a thousandth of real time, timeouts a
/// tenth, and idle loops looking for work every 5 ms, so a saga with retries ends in
/// milliseconds.
pub fn accelerated(mut config: RuntimeConfig) -> RuntimeConfig {
    config.time_scale = TimeScale {
        delays: 0.001,
        timeouts: 0.1,
    };
    config.poll_interval = Duration::from_millis(5);
    config
}
