//! What the SQLite backend promises beyond the shared conformance suite.

use std::sync::Arc;

use eventforge_core::Store;
use eventforge_core::event::{Event, EventType};
use eventforge_core::ids::OrderId;
use eventforge_store_conformance::fixtures::{created_event, order, product, user};
use eventforge_store_sqlite::{SqliteError, SqliteStore};

#[tokio::test]
async fn reopening_the_file_keeps_every_order_event_and_stock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/dev.db");
    let alice = user("alice");
    let placed = order(&alice, 0);
    {
        let store = SqliteStore::open(&path).expect("open creates parent directories");
        store
            .put_inventory(&product("SKU-A", 7))
            .await
            .expect("put");
        store
            .create_order(&placed, &created_event(&placed), None)
            .await
            .expect("create");
    }
    let reopened = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        reopened.get_order(placed.id).await.expect("get"),
        Some(placed.clone())
    );
    assert_eq!(
        reopened
            .order_history(placed.id)
            .await
            .expect("history")
            .len(),
        1
    );
    assert_eq!(
        reopened.outbox_pending(10).await.expect("outbox").len(),
        1,
        "the outbox survives"
    );
    assert_eq!(reopened.list_inventory().await.expect("list")[0].stock, 7);
}

#[test]
fn the_database_runs_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    SqliteStore::open(&path).expect("open");
    let connection = rusqlite::Connection::open(&path).expect("inspect");
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("pragma");
    assert!(version >= 2, "the schema version is recorded: {version}");
}

#[test]
fn a_database_from_a_newer_build_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch("PRAGMA user_version = 99")
        .expect("pragma");
    let error = SqliteStore::open(&path).expect_err("newer schema");
    assert!(
        matches!(error, SqliteError::NewerSchema { found: 99, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("--db"), "{error}");
}

#[test]
fn a_path_that_cannot_be_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = SqliteStore::open(dir.path()).expect_err("a directory is not a database");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_committed_writes_while_writes_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("dev.db")).expect("open"));
    let alice = user("alice");
    let placed = order(&alice, 0);
    store
        .create_order(&placed, &created_event(&placed), None)
        .await
        .expect("create");
    let writer = {
        let store = Arc::clone(&store);
        let alice = alice.clone();
        tokio::spawn(async move {
            for n in 0..200 {
                let event = Event::about_order(
                    EventType::try_from("test.tick".to_owned()).expect("valid type"),
                    placed.id,
                    alice.clone(),
                    eventforge_store_conformance::fixtures::at(n + 1),
                    serde_json::json!({ "n": n }),
                );
                store.append_event(&event).await.expect("append");
            }
        })
    };
    let mut last_seen = 0;
    while !writer.is_finished() {
        let seen = store.order_history(placed.id).await.expect("history").len();
        assert!(seen >= last_seen, "a reader never sees history shrink");
        last_seen = seen;
    }
    writer.await.expect("writer");
    assert_eq!(
        store.order_history(placed.id).await.expect("history").len(),
        201
    );
    assert_eq!(
        store.get_order(OrderId::generate()).await.expect("get"),
        None
    );
}
