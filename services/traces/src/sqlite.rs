//! Spans in a SQLite file of their own (not the order database: traces are diagnostics, and
//! deleting them must never touch an order).

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventforge_core::trace::{Span, SpanKind, SpanSink, SpanStore, SpanStoreError};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS spans (
    span_id        TEXT PRIMARY KEY,
    trace_id       TEXT NOT NULL,
    parent_span_id TEXT,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    started_us     INTEGER NOT NULL,
    duration_us    INTEGER NOT NULL,
    error          TEXT
);
CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id, started_us);
";

/// The span store of `cargo xtask dev`.
#[derive(Clone)]
pub struct SqliteSpans {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteSpans {
    /// Opens (creating if needed) the span file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SpanStoreError> {
        let path = path.as_ref();
        let failed = |e: rusqlite::Error| SpanStoreError(format!("{}: {e}", path.display()));
        let connection = Connection::open(path).map_err(failed)?;
        connection.execute_batch(SCHEMA).map_err(failed)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, SpanStoreError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&connection)
        })
        .await
        .map_err(|e| SpanStoreError(e.to_string()))?
        .map_err(|e| SpanStoreError(e.to_string()))
    }
}

/// The kind as its JSON name (`request`, `step`, `consumer`), one spelling everywhere.
fn kind_name(kind: SpanKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn kind_from(name: String) -> rusqlite::Result<SpanKind> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
    })
}

fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

#[async_trait]
impl SpanSink for SqliteSpans {
    async fn record(&self, span: &Span) -> Result<(), SpanStoreError> {
        let span = span.clone();
        self.with_connection(move |connection| {
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO spans
                     (span_id, trace_id, parent_span_id, name, kind, started_us, duration_us, error)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    span.span_id,
                    span.trace_id,
                    span.parent_span_id,
                    span.name,
                    kind_name(span.kind),
                    micros(span.started_at),
                    i64::try_from(span.duration_us).unwrap_or(i64::MAX),
                    span.error,
                ])
                .map(|_| ())
        })
        .await
    }
}

#[async_trait]
impl SpanStore for SqliteSpans {
    async fn trace(&self, trace_id: &str) -> Result<Vec<Span>, SpanStoreError> {
        let trace_id = trace_id.to_owned();
        self.with_connection(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT span_id, trace_id, parent_span_id, name, kind, started_us, duration_us, error
                 FROM spans WHERE trace_id = ?1 ORDER BY started_us, span_id",
            )?;
            let rows = statement.query_map([trace_id], |row| {
                let started_us: i64 = row.get(5)?;
                let duration_us: i64 = row.get(6)?;
                Ok(Span {
                    span_id: row.get(0)?,
                    trace_id: row.get(1)?,
                    parent_span_id: row.get(2)?,
                    name: row.get(3)?,
                    kind: kind_from(row.get(4)?)?,
                    started_at: OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(started_us) * 1_000,
                    )
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    duration_us: u64::try_from(duration_us).unwrap_or(0),
                    error: row.get(7)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
