//! The shared Store conformance suite, run against a fresh SQLite file per test: shared with
//! other processes (as `cargo xtask dev` opens it), and kept to this process (as the API binary
//! does).

use std::sync::Arc;

use eventforge_core::Store;
use eventforge_store_sqlite::{Sharing, SqliteStore};

/// A store on a new file under cargo's per-target scratch directory (`target/tmp`, removed by
/// `cargo clean`): the store may outlive the factory's caller in spawned tasks, so the file is
/// not tied to a guard that deletes it mid-test.
async fn fresh_store() -> Arc<dyn Store> {
    fresh_store_shared(Sharing::Processes)
}

fn fresh_store_shared(sharing: Sharing) -> Arc<dyn Store> {
    let dir = tempfile::Builder::new()
        .prefix("sqlite-conformance-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
        .keep();
    Arc::new(SqliteStore::open_with(dir.join("store.db"), sharing).expect("open a fresh store"))
}

eventforge_store_conformance::conformance_suite!(fresh_store);

mod kept_to_this_process {
    use super::*;

    async fn fresh_store() -> Arc<dyn Store> {
        fresh_store_shared(Sharing::ThisProcess)
    }

    eventforge_store_conformance::conformance_suite!(fresh_store);
}
