//! The shared Store conformance suite, run against a fresh SQLite file per test.

use std::sync::Arc;

use eventforge_core::Store;
use eventforge_store_sqlite::SqliteStore;

/// A store on a new file under cargo's per-target scratch directory (`target/tmp`, removed by
/// `cargo clean`): the store may outlive the factory's caller in spawned tasks, so the file is
/// not tied to a guard that deletes it mid-test.
async fn fresh_store() -> Arc<dyn Store> {
    let dir = tempfile::Builder::new()
        .prefix("sqlite-conformance-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
        .keep();
    Arc::new(SqliteStore::open(dir.join("store.db")).expect("open a fresh store"))
}

eventforge_store_conformance::conformance_suite!(fresh_store);
