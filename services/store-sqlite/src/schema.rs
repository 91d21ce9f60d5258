//! Opening connections and bringing the schema up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::SqliteError;

/// The schema this build writes; stored in SQLite's `user_version`.
pub(crate) const SCHEMA_VERSION: i64 = 1;

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

/// A connection in WAL mode with the settings every connection of the store uses.
pub(crate) fn connect(path: &Path) -> Result<Connection, SqliteError> {
    let open = |source| SqliteError::Open {
        path: path.to_path_buf(),
        source,
    };
    let connection = Connection::open(path).map_err(open)?;
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

/// Creates the schema in an empty database; refuses one written by a newer build.
pub(crate) fn migrate(connection: &Connection) -> Result<(), SqliteError> {
    let found: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(SqliteError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < 1 {
        connection.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA_V1} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))?;
    }
    Ok(())
}
