//! The runtime assembled: the saga executor, the bus with the platform's rules, the queues with
//! their consumers, and the outbox drainer, as background tasks over one [`FunctionHost`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eventforge_core::{Event, EventId, EventType, Store};
use eventforge_topology::saga::{SAGA_NAME, saga_definition};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::bus::{Bus, Rule};
use crate::db::RuntimeDb;
use crate::error::LocalResult;
use crate::executor::Executor;
use crate::host::FunctionHost;
use crate::interpreter::{Interpreter, StopSignal, TimeScale};
use crate::machine::Machine;
use crate::outbox;
use crate::queues::{DeadLetter, QueueSpec, Queues};
use crate::tasks::Tasks;

/// The type of the event recorded on an order when one of its messages is dead-lettered.
pub const DEAD_LETTERED: &str = "message.dead_lettered";

pub struct RuntimeConfig {
    pub store: Arc<dyn Store>,
    /// The SQLite file of the runtime's own tables (may be the store's file).
    pub db_path: PathBuf,
    pub host: Arc<dyn FunctionHost>,
    pub time_scale: TimeScale,
    /// How often idle loops look for work they were not told about.
    pub poll_interval: Duration,
    /// Batches each queue's consumer may work on at once (Lambda runs several pollers).
    pub consumers_per_queue: usize,
    /// The queues, normally [`Queues::platform_specs`].
    pub queues: Vec<QueueSpec>,
}

impl RuntimeConfig {
    /// The platform's saga, rules and queues over `store` and `host`, in real time.
    pub fn new(
        store: Arc<dyn Store>,
        db_path: impl Into<PathBuf>,
        host: Arc<dyn FunctionHost>,
    ) -> Self {
        Self {
            store,
            db_path: db_path.into(),
            host,
            time_scale: TimeScale::REAL,
            poll_interval: Duration::from_millis(25),
            consumers_per_queue: 2,
            queues: Queues::platform_specs(),
        }
    }
}

pub struct Runtime;

impl Runtime {
    /// Opens the runtime's tables, resumes in-flight executions, reports unreported dead letters
    /// and starts the background tasks.
    pub async fn start(config: RuntimeConfig) -> LocalResult<RuntimeHandle> {
        let db = RuntimeDb::open(&config.db_path)?;
        let machine = Arc::new(Machine::from_definition(&saga_definition())?);
        let tasks = Tasks::new();
        let (stop_sender, stop) = StopSignal::new();
        let interpreter = Interpreter::new(machine, Arc::clone(&config.host), config.time_scale);
        let executor = Executor::new(
            SAGA_NAME,
            interpreter,
            db.clone(),
            tasks.clone(),
            stop.clone(),
        );
        let queues = Queues::new(db.clone(), config.queues.clone(), config.time_scale);
        let bus = Bus::new(Rule::platform()?, queues.clone(), executor.clone());

        for letter in queues.unreported_dead_letters().await? {
            report_dead_letter(&config.store, &queues, &letter).await;
        }
        executor.resume().await?;

        let drainer = Drainer {
            store: Arc::clone(&config.store),
            bus,
            poll: config.poll_interval,
            stop: stop.clone(),
        };
        tasks.spawn(drainer.run());
        for spec in queues.specs() {
            for _ in 0..config.consumers_per_queue.max(1) {
                let consumer = Consumer {
                    spec: spec.clone(),
                    queues: queues.clone(),
                    host: Arc::clone(&config.host),
                    store: Arc::clone(&config.store),
                    time: config.time_scale,
                    poll: config.poll_interval,
                    stop: stop.clone(),
                };
                tasks.spawn(consumer.run());
            }
        }
        tracing::info!(db = %db.path().display(), "local runtime started");
        Ok(RuntimeHandle {
            store: config.store,
            executor,
            queues,
            tasks,
            stop: stop_sender,
            stopped: false,
        })
    }
}

/// The running runtime. [`RuntimeHandle::stop`] stops it gracefully; dropping it without
/// stopping aborts every task where it stands, as a killed process would.
pub struct RuntimeHandle {
    store: Arc<dyn Store>,
    executor: Executor,
    queues: Queues,
    tasks: Tasks,
    stop: watch::Sender<bool>,
    stopped: bool,
}

impl RuntimeHandle {
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// Asks every loop to stop at its next step and waits for them: executions stop between
    /// states (their progress is persisted) and in-flight invocations and batches finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        self.tasks.join_all().await;
        self.stopped = true;
        tracing::info!("local runtime stopped");
    }

    /// Whether nothing is left to do: no running execution, an empty outbox and no message
    /// waiting or in flight.
    pub async fn is_idle(&self) -> LocalResult<bool> {
        let (running, _, _) = self.executor.counts().await?;
        if running > 0 || !self.store.outbox_pending(1).await?.is_empty() {
            return Ok(false);
        }
        for spec in self.queues.specs() {
            let counts = self.queues.counts(&spec.name).await?;
            if counts.visible + counts.in_flight > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Waits until [`Self::is_idle`] (twice in a row, to see past hand-overs), or `timeout`.
    pub async fn settle(&self, timeout: Duration) -> LocalResult<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut idle_rounds = 0;
        while tokio::time::Instant::now() < deadline {
            if self.is_idle().await? {
                idle_rounds += 1;
                if idle_rounds >= 2 {
                    return Ok(true);
                }
            } else {
                idle_rounds = 0;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(false)
    }
}

impl Drop for RuntimeHandle {
    fn drop(&mut self) {
        if !self.stopped {
            self.tasks.abort_all();
        }
    }
}

struct Drainer {
    store: Arc<dyn Store>,
    bus: Bus,
    poll: Duration,
    stop: StopSignal,
}

impl Drainer {
    async fn run(mut self) {
        while !self.stop.is_stopped() {
            match outbox::drain_once(&self.store, &self.bus).await {
                Ok(0) => {
                    self.stop.sleep(self.poll).await;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "outbox drain failed; retrying");
                    self.stop.sleep(self.poll * 10).await;
                }
            }
        }
    }
}

struct Consumer {
    spec: QueueSpec,
    queues: Queues,
    host: Arc<dyn FunctionHost>,
    store: Arc<dyn Store>,
    time: TimeScale,
    poll: Duration,
    stop: StopSignal,
}

impl Consumer {
    async fn run(mut self) {
        let batch_size = usize::try_from(self.spec.batch_size).unwrap_or(10).max(1);
        while !self.stop.is_stopped() {
            let received_ms = crate::db::now_ms();
            let (batch, dead) = match self.queues.receive(&self.spec.name, batch_size).await {
                Ok(received) => received,
                Err(error) => {
                    tracing::error!(queue = %self.spec.name, %error, "receive failed");
                    self.stop.sleep(self.poll * 10).await;
                    continue;
                }
            };
            for letter in &dead {
                report_dead_letter(&self.store, &self.queues, letter).await;
            }
            if batch.is_empty() {
                tokio::select! {
                    () = self.queues.sent() => {}
                    () = tokio::time::sleep(self.poll) => {}
                    () = self.stop.stopped() => {}
                }
                continue;
            }
            let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
            let limit = self
                .time
                .timeout_seconds(f64::from(self.spec.consumer_timeout_seconds));
            let processing = self.host.process_batch(&self.spec.consumer, &batch);
            let failed: HashSet<String> = match tokio::time::timeout(limit, processing).await {
                Ok(Ok(failed)) => failed.into_iter().collect(),
                Ok(Err(error)) => {
                    tracing::warn!(queue = %self.spec.name, %error, "batch failed; its messages return after the visibility timeout");
                    ids.iter().cloned().collect()
                }
                Err(_) => {
                    tracing::warn!(queue = %self.spec.name, "batch timed out; its messages return after the visibility timeout");
                    ids.iter().cloned().collect()
                }
            };
            let (retry, done): (Vec<String>, Vec<String>) =
                ids.into_iter().partition(|id| failed.contains(id));
            if let Err(error) = self.queues.delete(done).await {
                tracing::error!(queue = %self.spec.name, %error, "delete failed; the messages will be delivered again");
            }
            if let Err(error) = self
                .queues
                .release(&self.spec.name, retry, received_ms)
                .await
            {
                tracing::error!(queue = %self.spec.name, %error, "could not release failed messages; they return after their lease");
            }
        }
    }
}

/// The event recorded on the order (if the message carries one) when a message is dead-lettered.
/// Its id derives from the message id, so reporting twice records it once.
pub fn dead_letter_event(letter: &DeadLetter) -> Option<Event> {
    let body: Value = serde_json::from_str(&letter.message.body).ok()?;
    let original: Option<Event> = body
        .get("detail")
        .and_then(|detail| serde_json::from_value(detail.clone()).ok());
    let original = original?;
    let event_type: EventType = DEAD_LETTERED.parse().ok()?;
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("eventforge:dead-letter:{}", letter.message.id).as_bytes(),
    );
    Some(Event {
        id: EventId(id),
        event_type,
        order_id: original.order_id,
        user_id: original.user_id.clone(),
        occurred_at: eventforge_core::event::truncate_to_millis(time::OffsetDateTime::now_utc()),
        detail: json!({
            "queue": letter.source_queue,
            "dead_letter_queue": letter.dead_letter_queue,
            "message_id": letter.message.id,
            "receive_count": letter.message.receive_count,
            "event_id": original.id,
            "event_type": original.event_type,
        }),
        trace: original.trace,
    })
}

async fn report_dead_letter(store: &Arc<dyn Store>, queues: &Queues, letter: &DeadLetter) {
    tracing::warn!(
        queue = %letter.source_queue,
        dead_letter_queue = %letter.dead_letter_queue,
        message = %letter.message.id,
        receives = letter.message.receive_count,
        "message moved to the dead-letter queue"
    );
    if let Some(event) = dead_letter_event(letter)
        && let Err(error) = store.append_event(&event).await
    {
        tracing::error!(%error, message = %letter.message.id, "could not record the dead-lettered message");
        return;
    }
    if let Err(error) = queues.mark_reported(&letter.message.id).await {
        tracing::error!(%error, message = %letter.message.id, "could not mark the dead letter reported");
    }
}
