//! The runtime's own tables (executions, their steps, queue messages), in an SQLite file that may
//! be the store's: the `local_` prefix keeps them apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eventforge_sqlite_writer::Writer;
use rusqlite::Connection;

use crate::error::{LocalError, LocalResult};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS local_executions (
    name        TEXT PRIMARY KEY,
    machine     TEXT NOT NULL,
    status      TEXT NOT NULL,          -- RUNNING | SUCCEEDED | FAILED
    state       TEXT,                   -- the state to run next while RUNNING
    input       TEXT NOT NULL,          -- the execution's input
    data        TEXT NOT NULL,          -- the input of `state`, or the output once finished
    error       TEXT,
    cause       TEXT,
    started_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    transitions INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS local_executions_status ON local_executions (status);
CREATE TABLE IF NOT EXISTS local_execution_steps (
    execution TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    state     TEXT NOT NULL,
    outcome   TEXT NOT NULL,            -- the next state, or SUCCEEDED / FAILED
    PRIMARY KEY (execution, seq)
);
CREATE TABLE IF NOT EXISTS local_messages (
    id            TEXT PRIMARY KEY,     -- also the deduplication key of a delivery
    queue         TEXT NOT NULL,        -- moves to the dead-letter queue's name on redrive
    source_queue  TEXT NOT NULL,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_ms    INTEGER NOT NULL,
    sent_ms       INTEGER NOT NULL,
    state         TEXT NOT NULL,        -- ready | done
    reported      INTEGER NOT NULL DEFAULT 1  -- 0 while a dead-letter arrival is unreported
);
CREATE INDEX IF NOT EXISTS local_messages_ready ON local_messages (queue, state, visible_ms);
CREATE INDEX IF NOT EXISTS local_messages_unreported ON local_messages (reported) WHERE reported = 0;
";

/// The runtime database: every call runs on its one writer thread, in a group-committed
/// transaction of its own (see `eventforge-sqlite-writer`), so the executor's transitions and
/// the queues' messages from many tasks commit together. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeDb {
    writer: Arc<Writer>,
    path: PathBuf,
}

impl std::fmt::Debug for RuntimeDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RuntimeDb {
    /// Opens (creating if needed) the runtime's tables in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> LocalResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A missing directory surfaces as SQLite's own "unable to open" error below.
            let _ = std::fs::create_dir_all(parent);
        }
        let failed = |source| LocalError::Database {
            path: path.clone(),
            source,
        };
        let connect = || {
            let connection = Connection::open(&path).map_err(failed)?;
            // The store may write to the same file: wait for its transactions rather than fail.
            connection
                .busy_timeout(Duration::from_secs(30))
                .map_err(failed)?;
            connection
                .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                .map_err(failed)?;
            Ok::<_, LocalError>(connection)
        };
        let connection = connect()?;
        connection.execute_batch(SCHEMA).map_err(failed)?;
        let writer = Writer::start("runtime-db", connection, connect()?).map_err(|source| {
            LocalError::WriterStart {
                path: path.clone(),
                source,
            }
        })?;
        Ok(Self {
            writer: Arc::new(writer),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the writer thread; its writes are kept only if it returns `Ok`, and `Ok`
    /// comes back only once they are committed.
    pub async fn call<T, F>(&self, work: F) -> LocalResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> LocalResult<T> + Send + 'static,
    {
        self.writer.apply(work).await?
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
