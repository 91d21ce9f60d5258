//! The embedded default backend of [`Store`]: everything in one SQLite file, in WAL mode. This is
//! what `cargo xtask dev` runs on; on AWS the DynamoDB backend takes its place, and both pass the
//! one conformance suite (`eventforge-store-conformance`).
//!
//! This crate must not depend on anything HTTP- or AWS-facing, nor on another backend.
//!
//! # Schema
//!
//! | Table | Key | What it holds |
//! |---|---|---|
//! | `orders` | `id` | the order as JSON (`data`, kept current), `user_id`, `created_ms`, `status` |
//! | `events` | `id` (unique); rowids in insertion order | the event as JSON, `order_id`, `user_id`, `occurred_ms`, `published` (the outbox flag) |
//! | `inventory` | `sku` | the item as JSON and `stock`, authoritative, `CHECK (stock >= 0)` |
//! | `reservations` | `order_id` | the reserved lines as JSON and `state` (`reserved` / `released`) |
//! | `webhooks` | `id` | the webhook as JSON, `user_id`, insertion order in `seq` |
//! | `idempotency` | (`user_id`, `key`) | `order_id`, request `fingerprint`, `expires_ms` |
//!
//! Orders list newest first by `(created_ms, id)` through an index on `user_id`; histories and the
//! outbox read oldest first by `(occurred_ms, id)`; event ids are UUID v7, so ties break in
//! creation order. Every index is ascending, so new rows land at the right end of their range,
//! and the newest-first lists read theirs backwards: no list query sorts. The schema version is
//! SQLite's `user_version`; opening a file written by an older build upgrades it in place.
//!
//! # Why one writer
//!
//! SQLite allows one writer at a time per file. Every state change runs on one writer thread,
//! which owns the write connection, inside a `BEGIN IMMEDIATE` transaction that also writes its
//! event with `published = 0` (the transactional outbox). Changes that arrive together share
//! one transaction, each in a savepoint of its own, and are answered after its commit (group
//! commit, see `eventforge-sqlite-writer`). Conditions (stock never below zero, status only
//! from the expected state) are checked inside the transaction, and since no other writer can
//! interleave, a check followed by an update is as good as a conditional write. Reads use a
//! pool of their own connections on tokio's blocking pool and, thanks to WAL, never wait for
//! the writer; no SQLite call runs on the async workers.

mod cursor;
mod error;
mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventforge_core::event::Event;
use eventforge_core::ids::{EventId, OrderId, Sku, UserId, WebhookId};
use eventforge_core::inventory::{InventoryItem, StockLine};
use eventforge_core::order::{Order, OrderStatus};
use eventforge_core::store::{
    CreateOutcome, IdempotencyClaim, MAX_PAGE_SIZE, MAX_RECENT_EVENTS, Page, ReleaseOutcome,
    ReserveOutcome, Store, StoreError, StoreResult, clamp_limit,
};
use eventforge_core::webhook::Webhook;
use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub use error::SqliteError;
use eventforge_sqlite_writer::Writer;

/// Read connections kept open for reuse; more are opened on demand under load.
const IDLE_READERS: usize = 16;

// The reads that return lists. Each reads one index in its order (newest first: backwards),
// so none sorts, whatever the number of rows; a unit test below holds them to that.
const ORDER_HISTORY: &str = "SELECT data FROM events WHERE order_id = ?1 ORDER BY occurred_ms, id";
/// An order's row (first column 1), then its events in order (0), in one statement: one
/// statement is one read transaction, so the two are one snapshot without a `BEGIN` and a
/// `COMMIT` around them (which were a third of the read's time, BENCHMARKS.md, "API"). The
/// order's row sorts first by a key below any event's time; the events come from their index
/// in its order, and the two are merged, not sorted.
const ORDER_WITH_HISTORY: &str =
    "SELECT 1, -9223372036854775808, '', data FROM orders WHERE id = ?1
     UNION ALL SELECT 0, occurred_ms, id, data FROM events WHERE order_id = ?1
     ORDER BY 2, 3";
const ORDERS_FIRST_PAGE: &str = "SELECT data FROM orders WHERE user_id = ?1
     ORDER BY created_ms DESC, id DESC LIMIT ?2";
const ORDERS_AFTER_CURSOR: &str =
    "SELECT data FROM orders WHERE user_id = ?1 AND (created_ms, id) < (?2, ?3)
     ORDER BY created_ms DESC, id DESC LIMIT ?4";
const RECENT_EVENTS: &str = "SELECT data FROM events WHERE user_id = ?1
     ORDER BY occurred_ms DESC, id DESC LIMIT ?2";
const OUTBOX_PENDING: &str =
    "SELECT data FROM events WHERE published = 0 ORDER BY occurred_ms, id LIMIT ?1";

/// A [`Store`] on one SQLite file. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    sharing: Sharing,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Which processes may have the database file open while a store has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Any number: each transaction takes and releases file locks (`fcntl`) that other
    /// processes see, and the write-ahead log's index is a `-shm` file they map. What `cargo
    /// xtask dev` opens, so the catalogue command and a `sqlite3` shell can use its database
    /// while it runs.
    #[default]
    Processes,
    /// This process only: SQLite's `unix-excl` VFS locks the file exclusively at the first
    /// access and keeps it until the store is dropped. The store's connections then coordinate
    /// in memory: no system call per transaction and the log's index in the heap, not a `-shm`
    /// file. Those system calls were an eighth of a `GET /api/orders/{id}`
    /// (BENCHMARKS.md, "API"). Another process that opens the file is answered "database is
    /// locked". What the API binary opens: it is its database's only process. A process must
    /// not open one file both ways at once (the two would keep two different log indexes).
    ThisProcess,
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the database at `path`, shared
    /// with other processes, and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        Self::open_with(path, Sharing::Processes)
    }

    /// Opens the database at `path` as [`SqliteStore::open`] does, shared as `sharing` says.
    pub fn open_with(path: impl AsRef<Path>, sharing: Sharing) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| SqliteError::CreateDirectory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut connection = schema::connect(&path, sharing)?;
        schema::migrate(&mut connection)?;
        // The checkpointer's own connection, opened before the writer's threads start so that
        // a file that cannot be opened is an error here.
        let checkpointer = schema::connect(&path, sharing)?;
        let writer = Writer::start("sqlite", connection, checkpointer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                sharing,
                writer,
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `change` on the writer thread, inside a transaction; its writes are kept only if it
    /// returns `Ok`, and `Ok` comes back only once they are committed.
    async fn write<T, F>(&self, change: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner
            .writer
            .apply(change)
            .await
            .map_err(|error| StoreError::backend(SqliteError::Writer(error)))?
    }

    /// Runs `query` on a pooled read connection, on the calling thread.
    ///
    /// Why not on the blocking pool, as blocking work should be: a read here is a lookup by key
    /// or one index range of at most a page of rows, in pages the OS has cached, and in WAL mode
    /// it never waits for the writer or a checkpoint. It takes microseconds, and handing it to
    /// another thread and back (a wake-up each way, the pool's lock) cost more than the read
    /// itself: a fifth of the API's time on `GET /api/orders/{id}` (BENCHMARKS.md, "API").
    async fn read<T, F>(&self, query: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let inner = &self.inner;
        let pooled = inner.readers.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match pooled {
            Some(connection) => connection,
            None => schema::connect(&inner.path, inner.sharing).map_err(StoreError::backend)?,
        };
        let value = query(&connection);
        // A connection left inside a transaction (a snapshot that could not be ended) would hold
        // its old snapshot for the next read: it is closed instead of pooled.
        if connection.is_autocommit()
            && let Ok(mut idle) = inner.readers.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(connection);
        }
        value
    }
}

/// Statements through the connection's statement cache: the writer runs the same few
/// statements thousands of times a second, and compiling one costs more than running it.
trait CachedStatements {
    fn run(&self, sql: &str, params: impl Params) -> rusqlite::Result<usize>;
    fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl CachedStatements for Connection {
    fn run(&self, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, read)
    }
}

fn sql(error: rusqlite::Error) -> StoreError {
    StoreError::backend(SqliteError::Sql(error))
}

fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::backend(SqliteError::Encoding(e)))
}

fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::backend(SqliteError::Encoding(e)))
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Writes the event (into the outbox too: `published = 0`). An id that exists is an error, so a
/// state change can never be recorded under another change's event.
fn insert_event(tx: &Connection, event: &Event) -> StoreResult<()> {
    tx.run(
        "INSERT INTO events (id, order_id, user_id, occurred_ms, event_type, data, published)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
        params![
            event.id.to_string(),
            event.order_id.map(|id| id.to_string()),
            event.user_id.as_ref().map(|user| user.0.clone()),
            millis(event.occurred_at),
            event.event_type.as_str(),
            to_json(event)?,
        ],
    )
    .map_err(sql)?;
    Ok(())
}

fn order_in(tx: &Connection, id: OrderId) -> StoreResult<Option<Order>> {
    tx.row(
        "SELECT data FROM orders WHERE id = ?1",
        [id.to_string()],
        |row| row.get::<_, String>(0),
    )
    .optional()
    .map_err(sql)?
    .map(|data| from_json(&data))
    .transpose()
}

fn order_with_history_in(
    connection: &Connection,
    id: OrderId,
) -> StoreResult<Option<(Order, Vec<Event>)>> {
    let mut statement = connection.prepare_cached(ORDER_WITH_HISTORY).map_err(sql)?;
    let mut rows = statement.query([id.to_string()]).map_err(sql)?;
    let (mut order, mut history) = (None, Vec::new());
    while let Some(row) = rows.next().map_err(sql)? {
        let is_order: bool = row.get(0).map_err(sql)?;
        // Borrowed from the row: the JSON is parsed where SQLite holds it, not copied first.
        let text = row
            .get_ref(3)
            .map_err(sql)?
            .as_str()
            .map_err(|e| sql(e.into()))?;
        if is_order {
            order = Some(from_json(text)?);
        } else {
            history.push(from_json(text)?);
        }
    }
    Ok(order.map(|order| (order, history)))
}

fn history_in(connection: &Connection, id: OrderId) -> StoreResult<Vec<Event>> {
    events_from(query_strings(connection, ORDER_HISTORY, [id.to_string()])?)
}

fn save_order(tx: &Connection, order: &Order) -> StoreResult<()> {
    tx.run(
        "UPDATE orders SET status = ?2, data = ?3 WHERE id = ?1",
        params![order.id.to_string(), order.status.as_str(), to_json(order)?],
    )
    .map_err(sql)?;
    Ok(())
}

fn events_from(rows: Vec<String>) -> StoreResult<Vec<Event>> {
    rows.iter().map(|data| from_json(data)).collect()
}

fn query_strings(
    connection: &Connection,
    statement: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<String>> {
    let mut statement = connection.prepare_cached(statement).map_err(sql)?;
    let rows = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// Lines naming one SKU more than once become one line with the sum, sorted by SKU.
fn merge_lines(lines: &[StockLine]) -> StoreResult<Vec<StockLine>> {
    let mut merged: BTreeMap<Sku, u32> = BTreeMap::new();
    for line in lines {
        let total = merged.entry(line.sku.clone()).or_default();
        *total = total
            .checked_add(line.quantity)
            .ok_or_else(|| StoreError::backend(SqliteError::Overflow(line.sku.to_string())))?;
    }
    Ok(merged
        .into_iter()
        .map(|(sku, quantity)| StockLine { sku, quantity })
        .collect())
}

fn stock_of(tx: &Connection, sku: &Sku) -> StoreResult<Option<u32>> {
    tx.row(
        "SELECT stock FROM inventory WHERE sku = ?1",
        [sku.as_str()],
        |row| row.get::<_, u32>(0),
    )
    .optional()
    .map_err(sql)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_order(
        &self,
        order: &Order,
        created: &Event,
        idempotency: Option<&IdempotencyClaim>,
    ) -> StoreResult<CreateOutcome> {
        let (order, created, claim) = (order.clone(), created.clone(), idempotency.cloned());
        self.write(move |tx| {
            let user = order.user_id.0.as_str();
            if let Some(claim) = &claim {
                let held: Option<(String, String, i64)> = tx
                    .row(
                        "SELECT order_id, fingerprint, expires_ms FROM idempotency
                         WHERE user_id = ?1 AND key = ?2",
                        params![user, claim.key],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .map_err(sql)?;
                // A claim past its expiry is forgotten, as DynamoDB's time-to-live forgets it.
                if let Some((existing, fingerprint, expires_ms)) = held
                    && expires_ms > millis(order.created_at)
                {
                    let existing: OrderId = existing
                        .parse()
                        .map_err(|_| StoreError::backend(SqliteError::Corrupt("order id")))?;
                    if fingerprint != claim.request_fingerprint {
                        return Err(StoreError::IdempotencyKeyReused { existing });
                    }
                    let first = order_in(tx, existing)?.ok_or(StoreError::OrderNotFound(existing))?;
                    return Ok(CreateOutcome::Replayed(first));
                }
                tx.run(
                    "INSERT OR REPLACE INTO idempotency (user_id, key, order_id, fingerprint, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        user,
                        claim.key,
                        order.id.to_string(),
                        claim.request_fingerprint,
                        millis(claim.expires_at)
                    ],
                )
                .map_err(sql)?;
            }
            tx.run(
                "INSERT INTO orders (id, user_id, created_ms, status, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    order.id.to_string(),
                    user,
                    millis(order.created_at),
                    order.status.as_str(),
                    to_json(&order)?
                ],
            )
            .map_err(sql)?;
            insert_event(tx, &created)?;
            Ok(CreateOutcome::Created(order.clone()))
        })
        .await
    }

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        self.read(move |connection| order_in(connection, id)).await
    }

    async fn order_history(&self, id: OrderId) -> StoreResult<Vec<Event>> {
        self.read(move |connection| history_in(connection, id))
            .await
    }

    async fn order_with_history(&self, id: OrderId) -> StoreResult<Option<(Order, Vec<Event>)>> {
        // One snapshot for the order and its events, as DynamoDB's one query of the partition
        // is: a transition committed between two reads would pair the old status with its new
        // event.
        self.read(move |connection| order_with_history_in(connection, id))
            .await
    }

    async fn list_orders(
        &self,
        user: &UserId,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Order>> {
        let limit = clamp_limit(limit, MAX_PAGE_SIZE);
        let after = cursor.map(|c| cursor::decode(c, user)).transpose()?;
        let user = user.clone();
        self.read(move |connection| {
            // One more than asked tells whether another page follows.
            let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
            let rows = match &after {
                Some(after) => query_strings(
                    connection,
                    ORDERS_AFTER_CURSOR,
                    params![user.0, after.created_ms, after.order_id, fetch],
                )?,
                None => query_strings(connection, ORDERS_FIRST_PAGE, params![user.0, fetch])?,
            };
            let mut items: Vec<Order> = rows
                .iter()
                .map(|data| from_json(data))
                .collect::<StoreResult<_>>()?;
            let next_cursor = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|last| cursor::encode(&user, last))
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn transition_order(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        event: &Event,
    ) -> StoreResult<Order> {
        let event = event.clone();
        self.write(move |tx| {
            let mut order = order_in(tx, id)?.ok_or(StoreError::OrderNotFound(id))?;
            if order.status != from {
                return Err(StoreError::StatusConflict {
                    id,
                    expected: from,
                    actual: order.status,
                });
            }
            order.status = to;
            order.updated_at = event.occurred_at;
            save_order(tx, &order)?;
            insert_event(tx, &event)?;
            Ok(order)
        })
        .await
    }

    async fn reserve_stock(
        &self,
        order_id: OrderId,
        lines: &[StockLine],
        event: &Event,
    ) -> StoreResult<ReserveOutcome> {
        let lines = merge_lines(lines)?;
        let event = event.clone();
        self.write(move |tx| {
            let reserved_before: bool = tx
                .row(
                    "SELECT 1 FROM reservations WHERE order_id = ?1",
                    [order_id.to_string()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(sql)?
                .is_some();
            if reserved_before {
                return Ok(ReserveOutcome::AlreadyReserved);
            }
            let mut available = Vec::with_capacity(lines.len());
            for line in &lines {
                let stock = stock_of(tx, &line.sku)?
                    .ok_or_else(|| StoreError::UnknownSku(line.sku.clone()))?;
                available.push(stock);
            }
            for (line, stock) in lines.iter().zip(available) {
                if stock < line.quantity {
                    return Err(StoreError::InsufficientStock {
                        sku: line.sku.clone(),
                        requested: line.quantity,
                        available: stock,
                    });
                }
            }
            for line in &lines {
                tx.run(
                    "UPDATE inventory SET stock = stock - ?2 WHERE sku = ?1",
                    params![line.sku.as_str(), line.quantity],
                )
                .map_err(sql)?;
            }
            tx.run(
                "INSERT INTO reservations (order_id, lines, state) VALUES (?1, ?2, 'reserved')",
                params![order_id.to_string(), to_json(&lines)?],
            )
            .map_err(sql)?;
            insert_event(tx, &event)?;
            Ok(ReserveOutcome::Reserved)
        })
        .await
    }

    async fn release_stock(&self, order_id: OrderId, event: &Event) -> StoreResult<ReleaseOutcome> {
        let event = event.clone();
        self.write(move |tx| {
            let reserved: Option<String> = tx
                .row(
                    "SELECT lines FROM reservations WHERE order_id = ?1 AND state = 'reserved'",
                    [order_id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql)?;
            let Some(reserved) = reserved else {
                return Ok(ReleaseOutcome::NothingReserved);
            };
            let lines: Vec<StockLine> = from_json(&reserved)?;
            for line in &lines {
                tx.run(
                    "UPDATE inventory SET stock = stock + ?2 WHERE sku = ?1",
                    params![line.sku.as_str(), line.quantity],
                )
                .map_err(sql)?;
            }
            tx.run(
                "UPDATE reservations SET state = 'released' WHERE order_id = ?1",
                [order_id.to_string()],
            )
            .map_err(sql)?;
            insert_event(tx, &event)?;
            Ok(ReleaseOutcome::Released(lines))
        })
        .await
    }

    async fn append_event(&self, event: &Event) -> StoreResult<()> {
        let event = event.clone();
        self.write(move |tx| {
            let exists = tx
                .row(
                    "SELECT 1 FROM events WHERE id = ?1",
                    [event.id.to_string()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(sql)?
                .is_some();
            if !exists {
                insert_event(tx, &event)?;
            }
            Ok(())
        })
        .await
    }

    async fn recent_events(&self, user: &UserId, limit: usize) -> StoreResult<Vec<Event>> {
        let limit = i64::try_from(clamp_limit(limit, MAX_RECENT_EVENTS)).unwrap_or(i64::MAX);
        let user = user.0.clone();
        self.read(move |connection| {
            events_from(query_strings(
                connection,
                RECENT_EVENTS,
                params![user, limit],
            )?)
        })
        .await
    }

    async fn put_inventory(&self, item: &InventoryItem) -> StoreResult<()> {
        let item = item.clone();
        self.write(move |tx| {
            tx.run(
                "INSERT INTO inventory (sku, stock, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sku) DO UPDATE SET stock = excluded.stock, data = excluded.data",
                params![item.sku.as_str(), item.stock, to_json(&item)?],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn get_inventory(&self, skus: &[Sku]) -> StoreResult<Vec<InventoryItem>> {
        let skus = skus.to_vec();
        self.read(move |connection| {
            let mut items = Vec::with_capacity(skus.len());
            let mut statement = connection
                .prepare_cached("SELECT data, stock FROM inventory WHERE sku = ?1")
                .map_err(sql)?;
            for sku in &skus {
                let row: Option<(String, u32)> = statement
                    .query_row([sku.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
                    .map_err(sql)?;
                if let Some((data, stock)) = row {
                    let mut item: InventoryItem = from_json(&data)?;
                    item.stock = stock;
                    items.push(item);
                }
            }
            Ok(items)
        })
        .await
    }

    async fn list_inventory(&self) -> StoreResult<Vec<InventoryItem>> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached("SELECT data, stock FROM inventory ORDER BY sku")
                .map_err(sql)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?))
                })
                .map_err(sql)?;
            rows.map(|row| {
                let (data, stock) = row.map_err(sql)?;
                let mut item: InventoryItem = from_json(&data)?;
                item.stock = stock;
                Ok(item)
            })
            .collect()
        })
        .await
    }

    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        let webhook = webhook.clone();
        self.write(move |tx| {
            tx.run(
                "INSERT INTO webhooks (id, user_id, data) VALUES (?1, ?2, ?3)",
                params![
                    webhook.id.to_string(),
                    webhook.user_id.0,
                    to_json(&webhook)?
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn list_webhooks(&self, user: &UserId) -> StoreResult<Vec<Webhook>> {
        let user = user.0.clone();
        self.read(move |connection| {
            query_strings(
                connection,
                "SELECT data FROM webhooks WHERE user_id = ?1 ORDER BY seq",
                [user],
            )?
            .iter()
            .map(|data| from_json(data))
            .collect()
        })
        .await
    }

    async fn delete_webhook(&self, user: &UserId, id: WebhookId) -> StoreResult<()> {
        let user = user.0.clone();
        self.write(move |tx| {
            let deleted = tx
                .run(
                    "DELETE FROM webhooks WHERE id = ?1 AND user_id = ?2",
                    params![id.to_string(), user],
                )
                .map_err(sql)?;
            if deleted == 0 {
                return Err(StoreError::WebhookNotFound(id));
            }
            Ok(())
        })
        .await
    }

    async fn attach_receipt(&self, order_id: OrderId, key: &str, event: &Event) -> StoreResult<()> {
        let (key, event) = (key.to_owned(), event.clone());
        self.write(move |tx| {
            let mut order = order_in(tx, order_id)?.ok_or(StoreError::OrderNotFound(order_id))?;
            order.receipt_key = Some(key.clone());
            save_order(tx, &order)?;
            insert_event(tx, &event)?;
            Ok(())
        })
        .await
    }

    async fn outbox_pending(&self, limit: usize) -> StoreResult<Vec<Event>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |connection| {
            events_from(query_strings(connection, OUTBOX_PENDING, [limit])?)
        })
        .await
    }

    async fn mark_published(&self, ids: &[EventId]) -> StoreResult<()> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.write(move |tx| {
            let mut statement = tx
                .prepare_cached("UPDATE events SET published = 1 WHERE id = ?1")
                .map_err(sql)?;
            for id in &ids {
                statement.execute([id]).map_err(sql)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EXPLAIN QUERY PLAN`'s lines for `query`, on a store's freshly migrated schema.
    fn plan(connection: &Connection, query: &str) -> Vec<String> {
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .expect("the query compiles");
        // Unbound parameters are NULL, which is all a plan needs.
        let mut rows = statement.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().expect("plan row") {
            steps.push(row.get(3).expect("detail"));
        }
        steps
    }

    #[test]
    fn list_queries_read_an_index_in_order_and_never_sort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plans.db");
        drop(SqliteStore::open(&path).expect("open"));
        let connection = Connection::open(&path).expect("inspect");
        for (query, index) in [
            (ORDER_HISTORY, "events_by_order"),
            (ORDER_WITH_HISTORY, "events_by_order"),
            (ORDERS_FIRST_PAGE, "orders_by_user"),
            (ORDERS_AFTER_CURSOR, "orders_by_user"),
            (RECENT_EVENTS, "events_by_user"),
            (OUTBOX_PENDING, "events_outbox"),
        ] {
            let steps = plan(&connection, query);
            assert!(
                steps.iter().any(|step| step.contains(index)),
                "{query}: expected to use {index}, plan {steps:?}"
            );
            assert!(
                !steps.iter().any(|step| step.contains("TEMP B-TREE")),
                "{query}: sorts, plan {steps:?}"
            );
        }
    }
}
