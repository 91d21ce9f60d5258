//! The one writer: a thread that owns the write connection and applies the changes queued to
//! it, in batches.
//!
//! SQLite takes one writer at a time, so concurrent state changes queue whatever happens; here
//! they queue in a channel rather than on a lock held across the blocking pool's threads. The
//! thread takes every change waiting (up to [`MAX_BATCH`]) into one `BEGIN IMMEDIATE`
//! transaction, each change in a savepoint of its own: a change that fails is rolled back alone
//! and its caller gets its error; the others commit together (group commit), and only then does
//! any caller hear of success. Each change still sees every change queued before it, so a
//! check followed by an update is as good as a conditional write, as with a lone transaction.
//!
//! Checkpoints (copying the write-ahead log into the database file, and the fsync that comes
//! with it) run on a thread of their own, every [`CHECKPOINT_INTERVAL`], in SQLite's passive
//! mode, which neither waits for nor blocks the writer or the readers. Left to SQLite, they
//! would run inside a commit every thousand pages and hold up every change queued behind it.
//! Under sustained writes the log then grows (it only starts over once a checkpoint has caught
//! up with its end, which happens at the first lull, and at the latest on closing); a writer
//! that catches the log up itself every few hundred batches was measured and stalled commits
//! by 60 ms at a time (see BENCHMARKS.md), so the log's size is the price paid for even latency.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use eventforge_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::SqliteError;

/// Most changes committed together: bounds how long the first waits for the last.
const MAX_BATCH: usize = 64;
/// How often the checkpointer copies the log into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// A queued change, type-erased so that changes returning different types share the channel.
trait Change: Send {
    /// Runs the change in its own savepoint; the outcome is held until the batch commits.
    /// `Err` when the savepoint could not be rolled back: the batch must not commit.
    fn apply(
        self: Box<Self>,
        connection: &Connection,
    ) -> Result<Box<dyn Settled>, Box<dyn Settled>>;
    /// Answers the caller without running the change (the batch could not begin).
    fn reject(self: Box<Self>, reason: String);
}

/// A change that ran, waiting for its batch's commit.
trait Settled: Send {
    fn deliver(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<T, F> {
    change: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

struct Ran<T> {
    outcome: StoreResult<T>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Change for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    fn apply(
        self: Box<Self>,
        connection: &Connection,
    ) -> Result<Box<dyn Settled>, Box<dyn Settled>> {
        let Pending { change, reply } = *self;
        match in_savepoint(connection, change) {
            Ok(outcome) => Ok(Box::new(Ran { outcome, reply })),
            Err(broken) => Err(Box::new(Ran {
                outcome: Err(broken),
                reply,
            })),
        }
    }

    fn reject(self: Box<Self>, reason: String) {
        // A caller that stopped waiting needs no answer.
        let _ = self.reply.send(Err(commit_failed(reason)));
    }
}

impl<T: Send> Settled for Ran<T> {
    fn deliver(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (self.outcome, commit) {
            // A change that failed was rolled back: its own error says why.
            (Err(error), _) => Err(error),
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(reason)) => Err(commit_failed(reason)),
        };
        let _ = self.reply.send(answer);
    }
}

fn commit_failed(reason: String) -> StoreError {
    StoreError::backend(SqliteError::Commit(reason))
}

/// Runs `change` between `SAVEPOINT` and `RELEASE`, or rolls it back to the savepoint when it
/// fails (the batch's other changes stay). The outer `Err` means the change's writes could not
/// be undone: the whole batch has to be rolled back.
fn in_savepoint<T>(
    connection: &Connection,
    change: impl FnOnce(&Connection) -> StoreResult<T>,
) -> Result<StoreResult<T>, StoreError> {
    let sql = |error| StoreError::backend(SqliteError::Sql(error));
    if let Err(error) = connection.execute_batch("SAVEPOINT change") {
        return Ok(Err(sql(error)));
    }
    let outcome = change(connection);
    let end = if outcome.is_ok() {
        "RELEASE change"
    } else {
        "ROLLBACK TO change; RELEASE change"
    };
    connection.execute_batch(end).map_err(sql)?;
    Ok(outcome)
}

/// The handle the store keeps; both threads end when it is dropped.
pub(crate) struct Writer {
    changes: mpsc::Sender<Box<dyn Change>>,
    /// Never sent on: its drop tells the checkpointer to stop.
    _checkpoints: mpsc::Sender<()>,
}

impl Writer {
    /// Starts the thread that owns `connection` (the database at `path`) and its checkpointer.
    pub(crate) fn start(connection: Connection, path: &Path) -> Result<Self, SqliteError> {
        // The checkpointer's own connection, opened before any thread starts so that a file
        // that cannot be opened is an error here.
        let checkpointer = crate::schema::connect(path)?;
        connection
            .execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(SqliteError::Sql)?;
        let (changes, queue) = mpsc::channel::<Box<dyn Change>>();
        let (checkpoints, stop) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || write_batches(connection, &queue))
            .map_err(SqliteError::WriterThread)?;
        std::thread::Builder::new()
            .name("sqlite-checkpointer".to_owned())
            .spawn(move || checkpoint_periodically(&checkpointer, &stop))
            .map_err(SqliteError::WriterThread)?;
        Ok(Self {
            changes,
            _checkpoints: checkpoints,
        })
    }

    /// Runs `change` in the next batch; `Ok` only once its batch committed.
    pub(crate) async fn apply<T, F>(&self, change: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.changes
            .send(Box::new(Pending { change, reply }))
            .map_err(|_| StoreError::backend(SqliteError::WriterStopped))?;
        answer
            .await
            .map_err(|_| StoreError::backend(SqliteError::WriterStopped))?
    }
}

fn write_batches(mut connection: Connection, queue: &mpsc::Receiver<Box<dyn Change>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(transaction) => transaction,
            Err(error) => {
                for change in batch {
                    change.reject(error.to_string());
                }
                continue;
            }
        };
        let mut settled = Vec::with_capacity(batch.len());
        let mut intact = true;
        for change in batch {
            match change.apply(&transaction) {
                Ok(outcome) => settled.push(outcome),
                Err(outcome) => {
                    intact = false;
                    settled.push(outcome);
                }
            }
        }
        let commit = if intact {
            transaction.commit().map_err(|error| error.to_string())
        } else {
            // Dropping the transaction rolls every change of the batch back.
            drop(transaction);
            Err(
                "a change could not be rolled back to its savepoint; the batch was undone"
                    .to_owned(),
            )
        };
        for outcome in settled {
            outcome.deliver(commit.clone());
        }
    }
}

fn checkpoint_periodically(connection: &Connection, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        // A checkpoint that cannot finish now (a reader still on old pages) finishes later.
        let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
    // The store is closing: leave the log empty for the next opening.
    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}
