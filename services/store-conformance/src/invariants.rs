//! Properties that must hold for any input, checked with proptest against a real backend. Each
//! case gets a fresh store from the factory.

use crate::fixtures::*;
use eventforge_application::commands::place_order;
use eventforge_core::clock::SystemClock;
use eventforge_core::event::EventType;
use eventforge_core::order::OrderStatus;
use eventforge_core::store::{ReleaseOutcome, ReserveOutcome, Store, StoreError};
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::future::Future;
use std::sync::Arc;

/// Few cases: each one runs against a real database.
const CASES: u32 = 16;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// For any concurrent mix of reservations and releases: stock never goes below zero, and what
/// remains plus what is still reserved equals what there was.
pub fn reservations_conserve_stock<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let rt = runtime();
    let strategy = (
        0u32..20,
        proptest::collection::vec((1u32..=5, any::<bool>()), 1..12),
    );
    runner()
        .run(&strategy, |(initial, orders)| {
            rt.block_on(async {
                let store = factory().await;
                store
                    .put_inventory(&product("SKU-P", initial))
                    .await
                    .expect("put");
                let owner = user("prop");
                let mut tasks = Vec::new();
                for (index, (quantity, also_release)) in orders.iter().copied().enumerate() {
                    let order = stored_order(store.as_ref(), &owner, index as i64).await;
                    let reserving = Arc::clone(&store);
                    let reserve_order = order.clone();
                    tasks.push(tokio::spawn(async move {
                        let event = event_for(&reserve_order, EventType::INVENTORY_RESERVED, 100);
                        let reserved = reserving
                            .reserve_stock(reserve_order.id, &[line("SKU-P", quantity)], &event)
                            .await;
                        (index, Some(reserved), None)
                    }));
                    if also_release {
                        let releasing = Arc::clone(&store);
                        tasks.push(tokio::spawn(async move {
                            let event = event_for(&order, EventType::INVENTORY_RELEASED, 200);
                            let released = releasing.release_stock(order.id, &event).await;
                            (index, None, Some(released))
                        }));
                    }
                }
                let mut held = vec![false; orders.len()];
                let mut released = vec![false; orders.len()];
                for task in futures::future::join_all(tasks).await {
                    match task.expect("task") {
                        (index, Some(Ok(ReserveOutcome::Reserved)), None) => held[index] = true,
                        (_, Some(Err(StoreError::InsufficientStock { .. })), None) => {}
                        (index, None, Some(Ok(ReleaseOutcome::Released(_)))) => {
                            released[index] = true
                        }
                        (_, None, Some(Ok(ReleaseOutcome::NothingReserved))) => {}
                        other => panic!("unexpected outcome {other:?}"),
                    }
                }
                let still_reserved: u32 = orders
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| held[*i] && !released[*i])
                    .map(|(_, (quantity, _))| quantity)
                    .sum();
                for (index, was_released) in released.iter().enumerate() {
                    prop_assert!(
                        !was_released || held[index],
                        "released what was never reserved"
                    );
                }
                let remaining = store.get_inventory(&[sku("SKU-P")]).await.expect("get")[0].stock;
                prop_assert!(remaining <= initial);
                prop_assert_eq!(remaining + still_reserved, initial);
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

fn requests() -> impl Strategy<Value = CreateOrderRequest> {
    proptest::collection::btree_map(0usize..8, 1i64..=1000, 1..=8).prop_map(|lines| {
        CreateOrderRequest {
            items: lines
                .into_iter()
                .map(|(product_index, quantity)| RequestedItem {
                    sku: format!("SKU-{product_index}"),
                    quantity,
                })
                .collect(),
        }
    })
}

async fn stocked(store: &dyn Store) {
    for index in 0..8 {
        store
            .put_inventory(&product(&format!("SKU-{index}"), 100))
            .await
            .expect("put");
    }
}

/// For any valid order: exactly one PENDING record and one `order.created` event.
pub fn valid_orders_create_one_record_and_one_event<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let rt = runtime();
    runner()
        .run(&requests(), |request| {
            rt.block_on(async {
                let store = factory().await;
                stocked(store.as_ref()).await;
                let owner = user("prop");
                let outcome =
                    place_order(store.as_ref(), &SystemClock, &owner, &request, None, None)
                        .await
                        .expect("a valid order is accepted");
                let listed = store
                    .list_orders(&owner, 50, None)
                    .await
                    .expect("list")
                    .items;
                prop_assert_eq!(listed.len(), 1);
                prop_assert_eq!(&listed[0], outcome.order());
                prop_assert_eq!(listed[0].status, OrderStatus::Pending);
                prop_assert_eq!(listed[0].items.len(), request.items.len());
                let events = store.outbox_pending(100).await.expect("outbox");
                prop_assert_eq!(events.len(), 1);
                prop_assert_eq!(&events[0].event_type, &EventType::ORDER_CREATED);
                prop_assert_eq!(events[0].order_id, Some(listed[0].id));
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// For any request sent twice at once with one Idempotency-Key: one order, returned to both.
pub fn idempotent_create_returns_the_same_order<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let rt = runtime();
    runner()
        .run(&(requests(), "[A-Za-z0-9-]{1,40}"), |(request, key)| {
            rt.block_on(async {
                let store = factory().await;
                stocked(store.as_ref()).await;
                let owner = user("prop");
                let (first, second) = tokio::join!(
                    place_order(
                        store.as_ref(),
                        &SystemClock,
                        &owner,
                        &request,
                        Some(&key),
                        None
                    ),
                    place_order(
                        store.as_ref(),
                        &SystemClock,
                        &owner,
                        &request,
                        Some(&key),
                        None
                    ),
                );
                let (first, second) = (first.expect("first"), second.expect("second"));
                prop_assert_eq!(first.order(), second.order());
                let listed = store
                    .list_orders(&owner, 50, None)
                    .await
                    .expect("list")
                    .items;
                prop_assert_eq!(listed.len(), 1);
                prop_assert_eq!(store.outbox_pending(100).await.expect("outbox").len(), 1);
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
