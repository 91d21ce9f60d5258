//! Opening connections and bringing the schema up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{Sharing, SqliteError};

/// The schema this build writes; stored in SQLite's `user_version`.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `MIGRATIONS[n]` brings a database at version `n` to `n + 1`. A new database runs them all,
/// so a new file and an upgraded one cannot differ. Never edit one that has shipped: add one.
const MIGRATIONS: [&str; 2] = [SCHEMA_V1, V1_TO_V2];

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA_V1: &str = "
CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_ms DESC, id DESC);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    order_id     TEXT,
    user_id      TEXT,
    occurred_ms  INTEGER NOT NULL,
    event_type   TEXT NOT NULL,
    data         TEXT NOT NULL,
    published    INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1))
);
CREATE INDEX events_by_order ON events (order_id, occurred_ms, id);
CREATE INDEX events_by_user ON events (user_id, occurred_ms DESC, id DESC);
CREATE INDEX events_outbox ON events (occurred_ms, id) WHERE published = 0;

CREATE TABLE inventory (
    sku    TEXT PRIMARY KEY,
    stock  INTEGER NOT NULL CHECK (stock >= 0),
    data   TEXT NOT NULL
);

CREATE TABLE reservations (
    order_id  TEXT PRIMARY KEY,
    lines     TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('reserved', 'released'))
);

CREATE TABLE webhooks (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    user_id  TEXT NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX webhooks_by_user ON webhooks (user_id, seq);

CREATE TABLE idempotency (
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    expires_ms   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
";

/// Fewer pages written per order (about a fifth fewer log frames; see BENCHMARKS.md):
/// - the newest-first indexes become ascending: new rows then land at the right end of a
///   user's range, where a full page splits off a new one instead of sharing its rows with its
///   neighbours; SQLite reads them backwards for the newest-first queries;
/// - `events` loses `AUTOINCREMENT`, which rewrote `sqlite_sequence` in every transaction, and
///   its unused `seq` column (rows keep their order as rowids; dropping the old table drops
///   its `sqlite_sequence` row).
const V1_TO_V2: &str = "
ALTER TABLE events RENAME TO events_v1;
CREATE TABLE events (
    id           TEXT NOT NULL UNIQUE,
    order_id     TEXT,
    user_id      TEXT,
    occurred_ms  INTEGER NOT NULL,
    event_type   TEXT NOT NULL,
    data         TEXT NOT NULL,
    published    INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1))
);
INSERT INTO events (rowid, id, order_id, user_id, occurred_ms, event_type, data, published)
    SELECT seq, id, order_id, user_id, occurred_ms, event_type, data, published FROM events_v1;
DROP TABLE events_v1;
CREATE INDEX events_by_order ON events (order_id, occurred_ms, id);
CREATE INDEX events_by_user ON events (user_id, occurred_ms, id);
CREATE INDEX events_outbox ON events (occurred_ms, id) WHERE published = 0;

DROP INDEX orders_by_user;
CREATE INDEX orders_by_user ON orders (user_id, created_ms, id);
";

/// A connection in WAL mode with the settings every connection of the store uses.
pub(crate) fn connect(path: &Path, sharing: Sharing) -> Result<Connection, SqliteError> {
    let open = |source| SqliteError::Open {
        path: path.to_path_buf(),
        source,
    };
    let vfs = match sharing {
        Sharing::Processes => "unix",
        Sharing::ThisProcess => "unix-excl",
    };
    let connection =
        Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).map_err(open)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
    // WAL: readers never block the writer; NORMAL sync is durable across application crashes
    // (the WAL is fsynced at checkpoints), which is what a development database needs.
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(open)?;
    Ok(connection)
}

/// Brings the schema up to date, all of it in one transaction; refuses a database written by a
/// newer build.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), SqliteError> {
    // Read inside the write transaction: another process opening the file at the same moment
    // waits here, then finds the schema already current.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(SqliteError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    let done = usize::try_from(found).unwrap_or(0);
    if done == MIGRATIONS.len() {
        return Ok(());
    }
    for migration in &MIGRATIONS[done..] {
        transaction.execute_batch(migration)?;
    }
    transaction.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use eventforge_core::Store;
    use eventforge_core::event::Event;
    use eventforge_core::order::Order;
    use eventforge_store_conformance::fixtures::{created_event, order, user};
    use rusqlite::params;

    use super::*;
    use crate::SqliteStore;

    /// A database as the first release left it: schema 1, with `orders` and `events` rows.
    fn version_1_database(path: &Path, orders: &[Order], events: &[Event]) {
        let connection = Connection::open(path).expect("create");
        connection
            .execute_batch(&format!("{SCHEMA_V1} PRAGMA user_version = 1;"))
            .expect("schema 1");
        for placed in orders {
            connection
                .execute(
                    "INSERT INTO orders (id, user_id, created_ms, status, data)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        placed.id.to_string(),
                        placed.user_id.0,
                        crate::millis(placed.created_at),
                        placed.status.as_str(),
                        serde_json::to_string(placed).expect("json"),
                    ],
                )
                .expect("order");
        }
        for event in events {
            connection
                .execute(
                    "INSERT INTO events (id, order_id, user_id, occurred_ms, event_type, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        event.id.to_string(),
                        event.order_id.map(|id| id.to_string()),
                        event.user_id.as_ref().map(|user| user.0.clone()),
                        crate::millis(event.occurred_at),
                        event.event_type.as_str(),
                        serde_json::to_string(event).expect("json"),
                    ],
                )
                .expect("event");
        }
    }

    fn strings(connection: &Connection, query: &str) -> Vec<String> {
        let mut statement = connection.prepare(query).expect("query");
        statement
            .query_map([], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("strings")
    }

    #[tokio::test]
    async fn a_version_1_database_is_upgraded_in_place_and_keeps_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        let alice = user("alice");
        let orders: Vec<Order> = (0..3).map(|n| order(&alice, n * 10)).collect();
        let events: Vec<Event> = orders.iter().map(created_event).collect();
        version_1_database(&path, &orders, &events);

        let store = SqliteStore::open(&path).expect("open upgrades");
        let page = store.list_orders(&alice, 10, None).await.expect("list");
        let newest_first: Vec<Order> = orders.iter().rev().cloned().collect();
        assert_eq!(page.items, newest_first);
        assert_eq!(
            store.order_history(orders[1].id).await.expect("history"),
            vec![events[1].clone()]
        );
        assert_eq!(
            store.outbox_pending(10).await.expect("outbox"),
            events,
            "unpublished events stay in the outbox, oldest first"
        );
        drop(store);

        let connection = Connection::open(&path).expect("inspect");
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let definitions = strings(
            &connection,
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL",
        );
        assert!(
            !definitions
                .iter()
                .any(|sql| sql.contains("DESC") || sql.contains("events_v1")),
            "{definitions:#?}"
        );
        assert!(
            definitions
                .iter()
                .any(|sql| sql.starts_with("CREATE TABLE events") && !sql.contains("seq")),
            "{definitions:#?}"
        );
        assert_eq!(
            strings(&connection, "SELECT name FROM sqlite_sequence"),
            Vec::<String>::new(),
            "the events' sequence (the only one schema 1 had used) is gone"
        );
    }

    #[test]
    fn opening_twice_migrates_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("twice.db");
        let mut first = connect(&path, Sharing::Processes).expect("connect");
        migrate(&mut first).expect("first migration");
        let mut second = connect(&path, Sharing::Processes).expect("connect");
        migrate(&mut second).expect("a current schema is left alone");
        let tables: i64 = second
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(tables, 1);
    }
}
