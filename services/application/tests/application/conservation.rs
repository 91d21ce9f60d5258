//! Property: whatever the orders and whichever payments are declined, stock plus the quantities
//! of confirmed orders is conserved (compensation always restores what a failed order reserved).

use std::sync::Arc;
use std::time::Duration;

use eventforge_application::commands::place_order;
use eventforge_application::local::LocalPlatform;
use eventforge_core::clock::SystemClock;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{OrderStatus, UserId};
use eventforge_local::Runtime;
use proptest::prelude::*;

const INITIAL_STOCK: i64 = 30;

/// Quantities of 1..=20 at 329.00: 16 or more exceed the simulated card limit and are declined.
async fn run(quantities: Vec<i64>) -> (i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::common::monitor_store(dir.path(), INITIAL_STOCK as u32).await;
    let platform =
        LocalPlatform::in_dir(Arc::clone(&store), dir.path(), UrlPolicy::PublicHttpsOnly);
    let config = crate::common::accelerated(platform.runtime_config());
    let runtime = Runtime::start(config).await.unwrap();
    let mut placed = Vec::new();
    for quantity in quantities {
        let request = CreateOrderRequest {
            items: vec![RequestedItem {
                sku: "MONITOR-27".into(),
                quantity,
            }],
        };
        let order = place_order(
            store.as_ref(),
            &SystemClock,
            &UserId("alice".into()),
            &request,
            None,
            None,
        )
        .await
        .unwrap()
        .into_order();
        placed.push((order.id, quantity));
    }
    assert!(runtime.settle(Duration::from_secs(30)).await.unwrap());
    let mut confirmed = 0;
    for (id, quantity) in placed {
        let order = store.get_order(id).await.unwrap().unwrap();
        match order.status {
            OrderStatus::Confirmed => confirmed += quantity,
            OrderStatus::Failed => {}
            other => panic!("order {id} ended {other:?}"),
        }
    }
    let stock = store
        .get_inventory(&["MONITOR-27".parse().unwrap()])
        .await
        .unwrap()[0]
        .stock as i64;
    runtime.stop().await;
    (stock, confirmed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn stock_plus_confirmed_quantities_is_conserved(quantities in prop::collection::vec(1i64..=20, 1..8)) {
        let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (stock, confirmed) = tokio.block_on(run(quantities));
        prop_assert_eq!(stock + confirmed, INITIAL_STOCK);
    }
}
