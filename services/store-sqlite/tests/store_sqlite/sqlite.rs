//! What the SQLite backend promises beyond the shared conformance suite.

use std::sync::Arc;

use eventforge_core::Store;
use eventforge_core::event::{Event, EventType};
use eventforge_core::ids::OrderId;
use eventforge_store_conformance::fixtures::{created_event, order, product, user};
use eventforge_store_sqlite::{Sharing, SqliteError, SqliteStore};

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

/// Counts the orders in the database at `path` from another process (Python's own SQLite, as a
/// `sqlite3` shell would), not waiting for a lock: the count, or what the process printed.
fn orders_seen_by_another_process(path: &std::path::Path) -> Result<i64, String> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             connection = sqlite3.connect(sys.argv[1], timeout=0)\n\
             print(connection.execute('SELECT COUNT(*) FROM orders').fetchone()[0])",
        ])
        .arg(path)
        .output()
        .expect("python3 runs (the machine's CPython)");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a count"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn a_store_kept_to_its_process_locks_others_out_until_it_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.db");
    let alice = user("alice");
    let store = SqliteStore::open_with(&path, Sharing::ThisProcess).expect("open");
    for n in 0..3 {
        let placed = order(&alice, n);
        store
            .create_order(&placed, &created_event(&placed), None)
            .await
            .expect("create");
    }
    // The store's own connections share the file: a read sees the writer's commits.
    assert_eq!(
        store
            .list_orders(&alice, 10, None)
            .await
            .expect("list")
            .items
            .len(),
        3
    );

    let refused = orders_seen_by_another_process(&path).expect_err("the file is this process's");
    assert!(refused.contains("database is locked"), "{refused}");

    drop(store);
    assert_eq!(
        orders_seen_by_another_process(&path),
        Ok(3),
        "once the store is dropped, another process reads every committed order"
    );
}

#[tokio::test]
async fn a_shared_store_lets_another_process_read_while_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dev.db");
    let store = SqliteStore::open(&path).expect("open");
    let placed = order(&user("alice"), 0);
    store
        .create_order(&placed, &created_event(&placed), None)
        .await
        .expect("create");
    assert_eq!(orders_seen_by_another_process(&path), Ok(1));
}
