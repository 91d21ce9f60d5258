//! The one writer: a thread that owns an SQLite file's write connection and applies the
//! changes queued to it, in batches. The SQLite store and the local runtime's own database
//! both write through one.
//!
//! SQLite takes one writer at a time, so concurrent state changes queue whatever happens; here
//! they queue in a channel rather than on a lock held across the blocking pool's threads. The
//! thread takes every change waiting (up to [`MAX_BATCH`]) into one `BEGIN IMMEDIATE`
//! transaction and runs them in order; they commit together (group commit), and only then does
//! any caller hear of success. Each change still sees every change queued before it, so a
//! check followed by an update is as good as a conditional write, as with a lone transaction.
//!
//! A change that fails is rolled back alone and its caller gets its error. For that, each change
//! would need a savepoint of its own, and a savepoint copies every page its change touches; in a
//! batch of hundreds of changes to the same few pages, those copies were a sixteenth of the local
//! saga's time. So a batch first runs without savepoints, and almost always commits like that.
//! Only when one of its changes fails is the whole transaction rolled back and the batch run
//! again, each change in a savepoint. This is why a change is an `Fn`: it may run twice, and
//! only the second run's outcome counts.
//!
//! Checkpoints (copying the write-ahead log into the database file, and the fsyncs that come
//! with it) run on a thread of their own, every [`CHECKPOINT_INTERVAL`], in SQLite's passive
//! mode, which neither waits for nor blocks the writer or the readers. Left to SQLite, they
//! would run inside a commit every thousand pages and hold up every change queued behind it.
//! Under sustained writes the log then grows (it only starts over once a checkpoint has caught
//! up with its end, which happens at the first lull, and at the latest on closing). Making it
//! start over under load means holding the writer while a checkpoint reaches the log's end, and
//! only such a checkpoint fsyncs the database file: it writes out every page copied since the
//! log last started over, 3 to 20 ms on the project's machine, and every write waits for that
//! (see BENCHMARKS.md). So the log's size is the price paid for even latency.
//!
//! Between checkpoints the same thread writes out what the log gained, every
//! [`LOG_FLUSH_INTERVAL`]. A checkpoint's fsync would otherwise write out 100 ms of log at once,
//! and while that runs, the writer's appends to the same file wait for it (on Linux's ext4, for
//! the lock under which new blocks of the file are allocated): small, frequent write-outs keep
//! each wait short and leave the checkpoint little to do.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

/// Most changes committed together: bounds how long the first waits for the last.
pub const MAX_BATCH: usize = 256;
/// Statements the write connection keeps compiled. Its owner's changes run the same few
/// statements over and over; rusqlite's default of 16 is fewer than the store's writes and the
/// savepoints together, and a cache that is too small recompiles a statement on every use.
pub const STATEMENT_CACHE: usize = 64;
/// How often the checkpointer copies the log into the database file.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// How often the checkpointer writes out what the log gained, between checkpoints.
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// Why a change did not take effect, other than its own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriterError {
    #[error("the transaction was not committed: {0}")]
    Commit(String),
    #[error("the writer thread has stopped")]
    Stopped,
}

/// Why [`Writer::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot turn SQLite's own checkpoints off: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the writer needs a database file in WAL mode, not an in-memory one")]
    NotAFile,
    #[error("cannot open the write-ahead log {path} (is the database in WAL mode?): {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the writer thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A queued change, type-erased so that changes returning different types share the channel.
trait Change: Send {
    /// Runs the change with no savepoint, keeping its value until the batch commits; `false`
    /// when it failed, which leaves its writes half done: the transaction must be rolled back.
    fn run_unguarded(&mut self, connection: &Connection) -> bool;
    /// Answers the caller with the value [`Change::run_unguarded`] kept, once the batch's
    /// commit succeeded or failed.
    fn deliver_unguarded(self: Box<Self>, commit: Result<(), String>);
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

type Answer<T, E> = Result<Result<T, E>, WriterError>;

struct Pending<T, E, F> {
    change: F,
    reply: oneshot::Sender<Answer<T, E>>,
    /// The value of a run without a savepoint, until its batch commits.
    unguarded: Option<T>,
}

struct Ran<T, E> {
    /// `Err` when the change could not even begin (its savepoint failed).
    outcome: Answer<T, E>,
    reply: oneshot::Sender<Answer<T, E>>,
}

impl<T, E, F> Change for Pending<T, E, F>
where
    T: Send + 'static,
    E: Send + 'static,
    F: Fn(&Connection) -> Result<T, E> + Send + 'static,
{
    fn run_unguarded(&mut self, connection: &Connection) -> bool {
        match (self.change)(connection) {
            Ok(value) => {
                self.unguarded = Some(value);
                true
            }
            Err(_) => false,
        }
    }

    fn deliver_unguarded(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (self.unguarded, commit) {
            (Some(value), Ok(())) => Ok(Ok(value)),
            (_, Err(reason)) => Err(WriterError::Commit(reason)),
            (None, Ok(())) => Err(WriterError::Commit(
                "the change was not run before its batch committed".to_owned(),
            )),
        };
        // A caller that stopped waiting needs no answer.
        let _ = self.reply.send(answer);
    }

    fn apply(
        self: Box<Self>,
        connection: &Connection,
    ) -> Result<Box<dyn Settled>, Box<dyn Settled>> {
        let Pending { change, reply, .. } = *self;
        match in_savepoint(connection, change) {
            Ok(outcome) => Ok(Box::new(Ran { outcome, reply })),
            Err(broken) => Err(Box::new(Ran {
                outcome: Err(WriterError::Commit(broken.to_string())),
                reply,
            })),
        }
    }

    fn reject(self: Box<Self>, reason: String) {
        // A caller that stopped waiting needs no answer.
        let _ = self.reply.send(Err(WriterError::Commit(reason)));
    }
}

impl<T: Send, E: Send> Settled for Ran<T, E> {
    fn deliver(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (self.outcome, commit) {
            // A change that failed was rolled back: its own error says why.
            (Ok(Err(error)), _) => Ok(Err(error)),
            (Err(error), _) => Err(error),
            (Ok(Ok(value)), Ok(())) => Ok(Ok(value)),
            (Ok(Ok(_)), Err(reason)) => Err(WriterError::Commit(reason)),
        };
        let _ = self.reply.send(answer);
    }
}

/// Runs `change` between `SAVEPOINT` and `RELEASE`, or rolls it back to the savepoint when it
/// fails (the batch's other changes stay). The outer `Err` means the change's writes could not
/// be undone: the whole batch has to be rolled back.
fn in_savepoint<T, E>(
    connection: &Connection,
    change: impl Fn(&Connection) -> Result<T, E>,
) -> Result<Answer<T, E>, rusqlite::Error> {
    if let Err(error) = run_cached(connection, "SAVEPOINT change") {
        return Ok(Err(WriterError::Commit(error.to_string())));
    }
    let outcome = change(connection);
    if outcome.is_err() {
        run_cached(connection, "ROLLBACK TO change")?;
    }
    run_cached(connection, "RELEASE change")?;
    Ok(Ok(outcome))
}

/// Runs one statement through the connection's cache: every change opens and releases a
/// savepoint, and compiling those two statements anew each time cost more than running them.
fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// The handle the owner keeps; both threads end when it is dropped.
pub struct Writer {
    changes: mpsc::Sender<Box<dyn Change>>,
    /// Never sent on: its drop tells the checkpointer to stop.
    _checkpoints: mpsc::Sender<()>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the thread that owns `connection`, and the checkpointer on `checkpointer` (a
    /// second connection to the same file). `name` names the threads.
    pub fn start(
        name: &str,
        connection: Connection,
        checkpointer: Connection,
    ) -> Result<Self, StartError> {
        connection.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        // A savepoint keeps a copy of each page its change touches (the statement journal),
        // to roll the change back alone. SQLite keeps that journal in memory only up to 64 KiB
        // and then spills it to a temporary file: in the local saga's batches it did, and the
        // spilled journal's writes were a tenth of the saga's time (BENCHMARKS.md). In memory
        // it is emptied at every RELEASE, so it never holds more than one change's pages.
        connection.execute_batch("PRAGMA temp_store = MEMORY")?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut log = LogFlusher::open(&connection)?;
        let (changes, queue) = mpsc::channel::<Box<dyn Change>>();
        let (checkpoints, stop) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name(format!("{name}-writer"))
            .spawn(move || write_batches(connection, &queue))?;
        std::thread::Builder::new()
            .name(format!("{name}-checkpoints"))
            .spawn(move || checkpoint_periodically(&checkpointer, &mut log, &stop))?;
        Ok(Self {
            changes,
            _checkpoints: checkpoints,
        })
    }

    /// Runs `change` in the next batch. The inner result is the change's own; it is `Ok` only
    /// once its batch committed. The outer `Err`: the change did not take effect.
    pub async fn apply<T, E, F>(&self, change: F) -> Answer<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.changes
            .send(Box::new(Pending {
                change,
                reply,
                unguarded: None,
            }))
            .map_err(|_| WriterError::Stopped)?;
        answer.await.map_err(|_| WriterError::Stopped)?
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
        if let Some(failed) = commit_unguarded(&mut connection, batch) {
            commit_guarded(&mut connection, failed);
        }
    }
}

/// Begins the write transaction of `batch`; when it cannot begin, every caller of the batch
/// hears why, and there is nothing left to run.
fn begin(
    connection: &mut Connection,
    batch: Vec<Box<dyn Change>>,
) -> Option<(Transaction<'_>, Vec<Box<dyn Change>>)> {
    match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => Some((transaction, batch)),
        Err(error) => {
            for change in batch {
                change.reject(error.to_string());
            }
            None
        }
    }
}

/// Runs `batch` in one transaction with no savepoints and commits it, answering every caller;
/// or, when a change failed, rolls the transaction back and hands the batch back untouched in
/// effect, to run again with savepoints.
fn commit_unguarded(
    connection: &mut Connection,
    batch: Vec<Box<dyn Change>>,
) -> Option<Vec<Box<dyn Change>>> {
    let (transaction, mut batch) = begin(connection, batch)?;
    if !batch
        .iter_mut()
        .all(|change| change.run_unguarded(&transaction))
    {
        // Dropping the transaction rolls back every change run so far, the failed one's
        // half-done writes included.
        drop(transaction);
        return Some(batch);
    }
    let commit = transaction.commit().map_err(|error| error.to_string());
    for change in batch {
        change.deliver_unguarded(commit.clone());
    }
    None
}

/// Runs `batch` in one transaction, each change in a savepoint of its own, so that a change
/// that fails is rolled back alone; commits the rest and answers every caller.
fn commit_guarded(connection: &mut Connection, batch: Vec<Box<dyn Change>>) {
    let Some((transaction, batch)) = begin(connection, batch) else {
        return;
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
        Err("a change could not be rolled back to its savepoint; the batch was undone".to_owned())
    };
    for outcome in settled {
        outcome.deliver(commit.clone());
    }
}

/// The write-ahead log, opened on its own to write out what it gained (see the crate docs).
struct LogFlusher {
    /// Read-only: nothing is ever written through it. Only ever the `-wal` file: closing a
    /// descriptor of the database or `-shm` file would drop SQLite's POSIX locks on it.
    log: File,
    flushed_len: u64,
}

impl LogFlusher {
    fn open(connection: &Connection) -> Result<Self, StartError> {
        let database = connection
            .path()
            .filter(|path| !path.is_empty())
            .ok_or(StartError::NotAFile)?;
        let path = PathBuf::from(format!("{database}-wal"));
        let log = File::open(&path).map_err(|source| StartError::Log { path, source })?;
        Ok(Self {
            log,
            flushed_len: 0,
        })
    }

    /// Writes the log out if it changed length since the last call; says whether it did. A
    /// log that started over at its old length is left to the next checkpoint: it only does
    /// that after a lull, when nothing waits on it.
    fn flush_growth(&mut self) -> bool {
        let Ok(len) = self.log.metadata().map(|metadata| metadata.len()) else {
            return false;
        };
        if len == self.flushed_len {
            return false;
        }
        // Failing here costs nothing but latency: the checkpoint's own fsync covers the log.
        let _ = self.log.sync_data();
        self.flushed_len = len;
        true
    }
}

fn checkpoint_periodically(
    connection: &Connection,
    log: &mut LogFlusher,
    stop: &mpsc::Receiver<()>,
) {
    let mut last_checkpoint = Instant::now();
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(LOG_FLUSH_INTERVAL) {
        if last_checkpoint.elapsed() < CHECKPOINT_INTERVAL {
            log.flush_growth();
            continue;
        }
        last_checkpoint = Instant::now();
        // A checkpoint that cannot finish now (a reader still on old pages) finishes later.
        let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
    // The owner is closing: leave the log empty for the next opening, if nobody else is using
    // the file. Without waiting: a waiting TRUNCATE holds off every other writer (another
    // process, or the next owner in this one) for as long as its busy timeout.
    let _ = connection.busy_timeout(Duration::ZERO);
    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &tempfile::TempDir) -> Writer {
        let path = dir.path().join("w.db");
        let open = || {
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                .unwrap();
            connection
        };
        let connection = open();
        connection
            .execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
            .unwrap();
        Writer::start("test", connection, open()).unwrap()
    }

    fn count(connection: &Connection) -> rusqlite::Result<i64> {
        connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_changes_all_commit_and_each_gets_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let writer = std::sync::Arc::new(writer(&dir));
        let inserts = (0..200).map(|n| {
            let writer = std::sync::Arc::clone(&writer);
            tokio::spawn(async move {
                writer
                    .apply(move |c| c.execute("INSERT INTO t VALUES (?1, ?2)", (n.to_string(), n)))
                    .await
            })
        });
        for (n, insert) in inserts.enumerate() {
            assert_eq!(insert.await.unwrap(), Ok(Ok(1)), "insert {n}");
        }
        assert_eq!(writer.apply(count).await.unwrap().unwrap(), 200);
    }

    #[tokio::test]
    async fn a_failing_change_is_rolled_back_alone_and_reports_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir);
        let failing = writer.apply(|c| {
            c.execute("INSERT INTO t VALUES ('half', 1)", [])?;
            // The primary key is taken: the change fails after its first write.
            c.execute("INSERT INTO t VALUES ('half', 2)", [])
        });
        let succeeding = writer.apply(|c| c.execute("INSERT INTO t VALUES ('whole', 1)", []));
        let (failed, succeeded) = tokio::join!(failing, succeeding);
        assert!(matches!(
            failed,
            Ok(Err(rusqlite::Error::SqliteFailure(..)))
        ));
        assert_eq!(succeeded, Ok(Ok(1)));
        let keys = writer
            .apply(|c| {
                let mut statement = c.prepare("SELECT k FROM t ORDER BY k")?;
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await;
        assert_eq!(keys, Ok(Ok(vec!["whole".to_owned()])));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_a_batch_where_some_changes_fail_every_other_change_takes_effect_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let writer = std::sync::Arc::new(writer(&dir));
        writer
            .apply(|c| {
                c.execute_batch("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)")
            })
            .await
            .unwrap()
            .unwrap();
        // Holds the writer, so that the changes below queue and run as one batch.
        let holder = writer.apply(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok::<_, rusqlite::Error>(())
        });
        let changes: Vec<_> = (0..100)
            .map(|n: i64| {
                let writer = std::sync::Arc::clone(&writer);
                tokio::spawn(async move {
                    writer
                        .apply(move |c| {
                            c.execute("UPDATE counter SET n = n + 1", [])?;
                            c.execute("INSERT INTO t VALUES (?1, ?2)", (n.to_string(), n))?;
                            if n % 10 == 3 {
                                // The key is taken: this change fails after its writes.
                                c.execute("INSERT INTO t VALUES (?1, 0)", [n.to_string()])?;
                            }
                            Ok::<_, rusqlite::Error>(n)
                        })
                        .await
                })
            })
            .collect();
        holder.await.unwrap().unwrap();
        let mut committed = Vec::new();
        for (n, change) in (0_i64..).zip(changes) {
            match change.await.unwrap() {
                Ok(Ok(value)) => {
                    assert_eq!(value, n);
                    committed.push(n.to_string());
                }
                Ok(Err(rusqlite::Error::SqliteFailure(..))) => assert_eq!(n % 10, 3, "change {n}"),
                other => panic!("change {n}: {other:?}"),
            }
        }
        assert_eq!(committed.len(), 90);
        let (keys, counter) = writer
            .apply(|c| {
                let mut statement = c.prepare("SELECT k FROM t ORDER BY v")?;
                let keys = statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let counter: i64 = c.query_row("SELECT n FROM counter", [], |row| row.get(0))?;
                Ok::<_, rusqlite::Error>((keys, counter))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            keys, committed,
            "each committed change's row, once; no failed change's"
        );
        assert_eq!(counter, 90, "each committed change counted once");
    }

    #[tokio::test]
    async fn savepoints_keep_their_copies_of_pages_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir);
        let temp_store = writer
            .apply(|connection| connection.query_row("PRAGMA temp_store", [], |row| row.get(0)))
            .await
            .unwrap();
        // 2 is MEMORY: no statement journal spilled to a temporary file.
        assert_eq!(temp_store, Ok(2_i64));
    }

    #[test]
    fn the_log_is_written_out_when_it_grew_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flush.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER);")
            .unwrap();
        let mut log = LogFlusher::open(&connection).unwrap();
        assert!(log.flush_growth(), "a new log is written out");
        assert!(!log.flush_growth(), "nothing changed");
        connection.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(log.flush_growth(), "a commit grew the log");
        assert!(!log.flush_growth(), "nothing changed since");
    }

    #[test]
    fn a_database_without_a_log_is_refused_with_the_reason() {
        let memory = Connection::open_in_memory().unwrap();
        let error = Writer::start("test", memory, Connection::open_in_memory().unwrap())
            .expect_err("in memory");
        assert!(matches!(error, StartError::NotAFile), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rollback.db");
        let open = || Connection::open(&path).unwrap();
        let journal = open();
        journal.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let error = Writer::start("test", journal, open()).expect_err("rollback journal");
        assert!(error.to_string().contains("WAL mode"), "{error}");
    }
}
