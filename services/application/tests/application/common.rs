//! What the handlers' specifications share: a real SQLite store stocked with one product, and
//! the local runtime on an accelerated clock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eventforge_core::{InventoryItem, Store};
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
