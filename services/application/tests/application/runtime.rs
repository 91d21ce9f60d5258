//! Specifications of the real handlers running in the local runtime over a real SQLite store:
//! an order is confirmed with an email and a PDF receipt, and a declined payment is compensated.

use std::sync::Arc;
use std::time::Duration;

use eventforge_application::commands::place_order;
use eventforge_application::local::LocalPlatform;
use eventforge_core::clock::SystemClock;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{InventoryItem, Order, OrderStatus, Store, UserId};
use eventforge_local::{Runtime, RuntimeHandle};
use eventforge_store_sqlite::SqliteStore;

struct World {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

async fn world(unit_price_minor: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("dev.db")).unwrap();
    store
        .put_inventory(&InventoryItem {
            sku: "MONITOR-27".parse().unwrap(),
            name: "Monitor".into(),
            unit_price_minor,
            currency: "EUR".parse().unwrap(),
            stock: 20,
        })
        .await
        .unwrap();
    World {
        dir,
        store: Arc::new(store),
    }
}

async fn start(world: &World) -> RuntimeHandle {
    let platform = LocalPlatform::in_dir(
        Arc::clone(&world.store),
        world.dir.path(),
        UrlPolicy::PublicHttpsOnly,
    );
    let config = crate::common::accelerated(platform.runtime_config());
    Runtime::start(config).await.unwrap()
}

async fn order(store: &Arc<dyn Store>, quantity: i64) -> Order {
    let request = CreateOrderRequest {
        items: vec![RequestedItem {
            sku: "MONITOR-27".into(),
            quantity,
        }],
    };
    place_order(
        store.as_ref(),
        &SystemClock,
        &UserId("alice".into()),
        &request,
        None,
        None,
    )
    .await
    .unwrap()
    .into_order()
}

async fn stock(store: &Arc<dyn Store>) -> i64 {
    let items = store
        .get_inventory(&["MONITOR-27".parse().unwrap()])
        .await
        .unwrap();
    items[0].stock as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_confirmed_with_an_email_and_a_pdf_receipt() {
    let world = world(32_900).await;
    let runtime = start(&world).await;
    let order = order(&world.store, 2).await;
    assert!(runtime.settle(Duration::from_secs(20)).await.unwrap());
    let stored = world.store.get_order(order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Confirmed);
    assert_eq!(stock(&world.store).await, 18);
    let key = stored.receipt_key.expect("a receipt is attached");
    let pdf = std::fs::read(world.dir.path().join("receipts").join(&key)).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let emails = std::fs::read_dir(world.dir.path().join("outbox"))
        .unwrap()
        .count();
    assert!(emails >= 1, "an email file is written");
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_fails_the_order_and_restores_the_stock() {
    // 16 x 329.00 = 5,264.00: above the simulated card limit.
    let world = world(32_900).await;
    let runtime = start(&world).await;
    let order = order(&world.store, 16).await;
    assert!(runtime.settle(Duration::from_secs(20)).await.unwrap());
    let stored = world.store.get_order(order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Failed);
    assert_eq!(stock(&world.store).await, 20, "the reservation is released");
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_orders_against_stock_fifty_confirm_exactly_fifty() {
    let world = world(1_000).await;
    world
        .store
        .put_inventory(&InventoryItem {
            sku: "MONITOR-27".parse().unwrap(),
            name: "Monitor".into(),
            unit_price_minor: 1_000,
            currency: "EUR".parse().unwrap(),
            stock: 50,
        })
        .await
        .unwrap();
    let runtime = start(&world).await;
    let started = std::time::Instant::now();
    let placing: Vec<_> = (0..500)
        .map(|_| {
            let store = Arc::clone(&world.store);
            tokio::spawn(async move { order(&store, 1).await.id })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in placing {
        ids.push(handle.await.unwrap());
    }
    assert!(runtime.settle(Duration::from_secs(120)).await.unwrap());
    let mut confirmed = 0;
    for id in ids {
        let stored = world.store.get_order(id).await.unwrap().unwrap();
        match stored.status {
            OrderStatus::Confirmed => confirmed += 1,
            OrderStatus::Failed => {}
            other => panic!("order {id} ended {other:?}"),
        }
    }
    eprintln!("500 orders settled in {:?}", started.elapsed());
    assert_eq!(confirmed, 50);
    assert_eq!(stock(&world.store).await, 0, "nothing oversold");
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_killed_mid_flight_resumes_and_every_order_ends_once() {
    let world = world(1_000).await;
    let runtime = start(&world).await;
    let mut ids = Vec::new();
    for _ in 0..15 {
        ids.push(order(&world.store, 1).await.id);
    }
    tokio::time::sleep(Duration::from_millis(15)).await;
    drop(runtime); // killed: no graceful stop

    let runtime = start(&world).await;
    assert!(runtime.settle(Duration::from_secs(30)).await.unwrap());
    let mut confirmed = 0;
    for id in ids {
        let stored = world.store.get_order(id).await.unwrap().unwrap();
        assert!(
            matches!(stored.status, OrderStatus::Confirmed),
            "order {id} ended {:?}",
            stored.status
        );
        confirmed += 1;
        let history = world.store.order_history(id).await.unwrap();
        let confirmations = history
            .iter()
            .filter(|event| event.event_type == eventforge_core::EventType::ORDER_CONFIRMED)
            .count();
        assert_eq!(confirmations, 1, "order {id} confirmed exactly once");
    }
    assert_eq!(stock(&world.store).await, 20 - confirmed);
    runtime.stop().await;
}
