//! Executions of a state machine, persisted after every transition so that a restarted runtime
//! resumes each one from the last state it completed. The state that was running when the
//! process died runs again: saga steps are idempotent, as on AWS, where a Lambda invocation may
//! be retried too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use time::OffsetDateTime;

use crate::db::{RuntimeDb, now_ms};
use crate::error::{LocalError, LocalResult};
use crate::interpreter::{ExecutionContext, Interpreter, Step, StopSignal};
use crate::tasks::Tasks;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            _ => Self::Running,
        }
    }
}

/// An execution as persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub name: String,
    pub status: ExecutionStatus,
    /// The state to run next, while running.
    pub state: Option<String>,
    pub input: Value,
    /// The next state's input while running; the output once succeeded.
    pub data: Value,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started_ms: i64,
}

/// Starts, runs and resumes executions of one state machine.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    machine_name: String,
    interpreter: Interpreter,
    db: RuntimeDb,
    tasks: Tasks,
    stop: StopSignal,
    /// Executions being driven by a task of this process.
    active: Mutex<HashSet<String>>,
}

fn row_to_execution(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Execution, String, String)> {
    let status: String = row.get(1)?;
    Ok((
        Execution {
            name: row.get(0)?,
            status: ExecutionStatus::parse(&status),
            state: row.get(2)?,
            input: Value::Null,
            data: Value::Null,
            error: row.get(5)?,
            cause: row.get(6)?,
            started_ms: row.get(7)?,
        },
        row.get(3)?,
        row.get(4)?,
    ))
}

const SELECT: &str =
    "SELECT name, status, state, input, data, error, cause, started_ms FROM local_executions";

impl Executor {
    pub fn new(
        machine_name: &str,
        interpreter: Interpreter,
        db: RuntimeDb,
        tasks: Tasks,
        stop: StopSignal,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                machine_name: machine_name.to_owned(),
                interpreter,
                db,
                tasks,
                stop,
                active: Mutex::new(HashSet::new()),
            }),
        }
    }

    pub fn machine_name(&self) -> &str {
        &self.inner.machine_name
    }

    /// Starts the execution `name` with `input` unless one of that name exists (a redelivered
    /// start is a no-op, like `StartExecution` with a used name). `true` when it is new.
    pub async fn start(&self, name: &str, input: Value) -> LocalResult<bool> {
        let started = self.start_all(vec![(name.to_owned(), input)]).await?;
        Ok(started.first().copied().unwrap_or(false))
    }

    /// Starts each `(name, input)` as [`Self::start`] does, all in one transaction; for each,
    /// whether it is new.
    pub async fn start_all(&self, starts: Vec<(String, Value)>) -> LocalResult<Vec<bool>> {
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let machine = self.inner.machine_name.clone();
        let start_at = self.inner.interpreter.machine().document.start_at.clone();
        let texts = starts
            .iter()
            .map(|(_, input)| serde_json::to_string(input))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = starts.iter().map(|(name, _)| name.clone()).collect();
        let state = start_at.clone();
        let (created, started_ms) = self
            .inner
            .db
            .call(move |db| {
                let now = now_ms();
                let mut insert = db.prepare_cached(
                    "INSERT OR IGNORE INTO local_executions
                       (name, machine, status, state, input, data, started_ms, updated_ms)
                     VALUES (?1, ?2, 'RUNNING', ?3, ?4, ?4, ?5, ?5)",
                )?;
                let created = names
                    .iter()
                    .zip(&texts)
                    .map(|(name, text)| {
                        Ok(insert.execute(params![name, machine, state, text, now])? == 1)
                    })
                    .collect::<LocalResult<Vec<bool>>>()?;
                Ok((created, now))
            })
            .await?;
        for ((name, input), &new) in starts.into_iter().zip(&created) {
            if new {
                tracing::debug!(execution = %name, machine = %self.inner.machine_name, "execution started");
                // What the database now holds for it, so its task need not read it back.
                let execution = Execution {
                    name: name.clone(),
                    status: ExecutionStatus::Running,
                    state: Some(start_at.clone()),
                    data: input.clone(),
                    input,
                    error: None,
                    cause: None,
                    started_ms,
                };
                self.spawn(name, Some(execution));
            }
        }
        Ok(created)
    }

    /// Drives every execution of this machine the database holds as running; how many.
    pub async fn resume(&self) -> LocalResult<usize> {
        let machine = self.inner.machine_name.clone();
        let names: Vec<String> = self
            .inner
            .db
            .call(move |db| {
                let mut statement = db.prepare(
                    "SELECT name FROM local_executions WHERE status = 'RUNNING' AND machine = ?1
                     ORDER BY started_ms",
                )?;
                let names = statement
                    .query_map([&machine], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(names)
            })
            .await?;
        let count = names.len();
        for name in names {
            self.spawn(name, None);
        }
        if count > 0 {
            tracing::info!(count, machine = %self.inner.machine_name, "resuming in-flight executions");
        }
        Ok(count)
    }

    pub async fn describe(&self, name: &str) -> LocalResult<Option<Execution>> {
        let name = name.to_owned();
        self.inner
            .db
            .call(move |db| {
                let found = db
                    .query_row(
                        &format!("{SELECT} WHERE name = ?1"),
                        [&name],
                        row_to_execution,
                    )
                    .optional()?;
                found
                    .map(|(mut execution, input, data)| {
                        execution.input = serde_json::from_str(&input)?;
                        execution.data = serde_json::from_str(&data)?;
                        Ok(execution)
                    })
                    .transpose()
            })
            .await
    }

    /// The states the execution completed, in order, each with where it led.
    pub async fn steps(&self, name: &str) -> LocalResult<Vec<(String, String)>> {
        let name = name.to_owned();
        self.inner
            .db
            .call(move |db| {
                let mut statement = db.prepare(
                    "SELECT state, outcome FROM local_execution_steps WHERE execution = ?1 ORDER BY seq",
                )?;
                let steps = statement
                    .query_map([&name], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(steps)
            })
            .await
    }

    /// Executions of this machine by status: (running, succeeded, failed).
    pub async fn counts(&self) -> LocalResult<(u64, u64, u64)> {
        let machine = self.inner.machine_name.clone();
        self.inner
            .db
            .call(move |db| {
                let mut statement = db.prepare(
                    "SELECT status, COUNT(*) FROM local_executions WHERE machine = ?1 GROUP BY status",
                )?;
                let mut counts = (0, 0, 0);
                let rows = statement.query_map([&machine], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?))
                })?;
                for row in rows {
                    let (status, n) = row?;
                    match ExecutionStatus::parse(&status) {
                        ExecutionStatus::Running => counts.0 = n,
                        ExecutionStatus::Succeeded => counts.1 = n,
                        ExecutionStatus::Failed => counts.2 = n,
                    }
                }
                Ok(counts)
            })
            .await
    }

    /// Polls until the execution has finished, or `timeout` passes.
    pub async fn wait_finished(&self, name: &str, timeout: Duration) -> LocalResult<Execution> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(execution) = self.describe(name).await?
                && execution.status != ExecutionStatus::Running
            {
                return Ok(execution);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LocalError::Task(format!(
                    "execution {name} did not finish in time"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Drives execution `name` on a task of its own, unless one already does; `known` is the
    /// execution as persisted when the caller has it (otherwise it is read).
    fn spawn(&self, name: String, known: Option<Execution>) {
        {
            let Ok(mut active) = self.inner.active.lock() else {
                return;
            };
            if !active.insert(name.clone()) {
                return;
            }
        }
        let executor = self.clone();
        self.inner.tasks.spawn(async move {
            if let Err(error) = executor.drive(&name, known).await {
                tracing::error!(execution = %name, %error, "execution stopped on a runtime error");
            }
            if let Ok(mut active) = executor.inner.active.lock() {
                active.remove(&name);
            }
        });
    }

    async fn drive(&self, name: &str, known: Option<Execution>) -> LocalResult<()> {
        let execution = match known {
            Some(execution) => execution,
            None => match self.describe(name).await? {
                Some(execution) => execution,
                None => return Ok(()),
            },
        };
        let (ExecutionStatus::Running, Some(mut state)) = (execution.status, execution.state)
        else {
            return Ok(());
        };
        let context = ExecutionContext {
            machine_name: self.inner.machine_name.clone(),
            execution_name: name.to_owned(),
            input: execution.input,
            started_at: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(execution.started_ms) * 1_000_000,
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        let mut data = execution.data;
        let mut stop = self.inner.stop.clone();
        loop {
            if stop.is_stopped() {
                return Ok(());
            }
            let step = self
                .inner
                .interpreter
                .run_state(&context, &state, data, &mut stop)
                .await;
            match step {
                Step::Interrupted => return Ok(()),
                Step::Next {
                    state: next,
                    output,
                } => {
                    self.record(
                        name,
                        &state,
                        ExecutionStatus::Running,
                        Some(&next),
                        &output,
                        None,
                    )
                    .await?;
                    state = next;
                    data = output;
                }
                Step::Succeeded(output) => {
                    self.record(
                        name,
                        &state,
                        ExecutionStatus::Succeeded,
                        None,
                        &output,
                        None,
                    )
                    .await?;
                    tracing::info!(execution = name, state = %state, "execution succeeded");
                    return Ok(());
                }
                Step::Failed { error, cause } => {
                    tracing::warn!(execution = name, state = %state, %error, %cause, "execution failed");
                    self.record(
                        name,
                        &state,
                        ExecutionStatus::Failed,
                        None,
                        &Value::Null,
                        Some((error, cause)),
                    )
                    .await?;
                    return Ok(());
                }
            }
        }
    }

    /// Persists one transition: the completed state, and where the execution now stands.
    async fn record(
        &self,
        name: &str,
        completed: &str,
        status: ExecutionStatus,
        next: Option<&str>,
        data: &Value,
        failure: Option<(String, String)>,
    ) -> LocalResult<()> {
        let name = name.to_owned();
        let completed = completed.to_owned();
        let next = next.map(str::to_owned);
        let data = serde_json::to_string(data)?;
        let outcome = next.clone().unwrap_or_else(|| status.as_str().to_owned());
        let (error, cause) = failure.unzip();
        self.inner
            .db
            .call(move |db| {
                let seq: i64 = db
                    .prepare_cached(
                        "UPDATE local_executions
                            SET status = ?2, state = ?3, data = ?4, error = ?5, cause = ?6,
                                updated_ms = ?7, transitions = transitions + 1
                          WHERE name = ?1
                      RETURNING transitions",
                    )?
                    .query_row(
                        params![name, status.as_str(), next, data, error, cause, now_ms()],
                        |row| row.get(0),
                    )?;
                db.prepare_cached(
                    "INSERT OR REPLACE INTO local_execution_steps (execution, seq, state, outcome)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![name, seq, completed, outcome])?;
                Ok(())
            })
            .await
    }
}
