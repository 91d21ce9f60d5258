//! Queues with SQS's delivery semantics: a received message stays invisible for the visibility
//! timeout and comes back unless deleted; each receive counts; a message received
//! `max_receive_count` times without being deleted moves to the dead-letter queue on its next
//! receive. Everything is in the runtime database, so a restart loses nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use eventforge_topology::{PROCESSOR_TIMEOUT_SECONDS, QueueSettings, queues};
use rusqlite::params;

use crate::db::{RuntimeDb, now_ms};
use crate::error::{LocalError, LocalResult};
use crate::host::QueueMessage;
use crate::interpreter::TimeScale;

/// The settings of one queue, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub dead_letter_queue: String,
    pub consumer: String,
    pub visibility_timeout_seconds: u32,
    pub max_receive_count: u32,
    pub batch_size: u32,
    /// How long the consumer may take per batch.
    pub consumer_timeout_seconds: u32,
}

impl From<&QueueSettings> for QueueSpec {
    fn from(settings: &QueueSettings) -> Self {
        Self {
            name: settings.name.to_owned(),
            dead_letter_queue: settings.dead_letter_queue(),
            consumer: settings.consumer.to_owned(),
            visibility_timeout_seconds: settings.visibility_timeout_seconds,
            max_receive_count: settings.max_receive_count,
            batch_size: settings.batch_size,
            consumer_timeout_seconds: PROCESSOR_TIMEOUT_SECONDS,
        }
    }
}

/// A message to send: its body, to a queue, under an id that deduplicates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub queue: String,
    pub id: String,
    pub body: String,
}

/// A message that arrived in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message: QueueMessage,
    pub source_queue: String,
    pub dead_letter_queue: String,
}

/// Messages by where they are, for one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted or visible again.
    pub in_flight: u64,
    /// In the queue's dead-letter queue.
    pub dead: u64,
}

/// Every queue of the runtime.
#[derive(Clone)]
pub struct Queues {
    db: RuntimeDb,
    specs: Arc<BTreeMap<String, QueueSpec>>,
    time: TimeScale,
    sent: Arc<tokio::sync::Notify>,
}

impl Queues {
    pub fn new(db: RuntimeDb, specs: Vec<QueueSpec>, time: TimeScale) -> Self {
        Self {
            db,
            specs: Arc::new(specs.into_iter().map(|s| (s.name.clone(), s)).collect()),
            time,
            sent: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The platform's queues, as the messaging stack deploys them.
    pub fn platform_specs() -> Vec<QueueSpec> {
        queues().iter().map(QueueSpec::from).collect()
    }

    pub fn spec(&self, queue: &str) -> LocalResult<&QueueSpec> {
        self.specs
            .get(queue)
            .ok_or_else(|| LocalError::UnknownQueue(queue.to_owned()))
    }

    pub fn specs(&self) -> impl Iterator<Item = &QueueSpec> {
        self.specs.values()
    }

    /// Completes when a message may have been sent since the last call.
    pub async fn sent(&self) {
        self.sent.notified().await;
    }

    /// Sends `body` as message `id`; a message with that id already sent is not sent again
    /// (deliveries of one event by one rule are deduplicated). `true` when new.
    pub async fn send(&self, queue: &str, id: &str, body: &str) -> LocalResult<bool> {
        let sent = self
            .send_all(vec![OutgoingMessage {
                queue: queue.to_owned(),
                id: id.to_owned(),
                body: body.to_owned(),
            }])
            .await?;
        Ok(sent.first().copied().unwrap_or(false))
    }

    /// Sends each message as [`Self::send`] does, all in one transaction (the bus delivers a
    /// whole outbox batch at once); for each, whether it was new.
    pub async fn send_all(&self, messages: Vec<OutgoingMessage>) -> LocalResult<Vec<bool>> {
        for message in &messages {
            self.spec(&message.queue)?;
        }
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let inserted: Vec<bool> = self
            .db
            .call(move |db| {
                let now = now_ms();
                let mut insert = db.prepare_cached(
                    "INSERT OR IGNORE INTO local_messages
                       (id, queue, source_queue, body, visible_ms, sent_ms, state)
                     VALUES (?1, ?2, ?2, ?3, ?4, ?4, 'ready')",
                )?;
                messages
                    .iter()
                    .map(|m| Ok(insert.execute(params![m.id, m.queue, m.body, now])? == 1))
                    .collect()
            })
            .await?;
        if inserted.contains(&true) {
            self.sent.notify_waiters();
        }
        Ok(inserted)
    }

    /// Receives up to `max` visible messages, hiding them for the visibility timeout. Messages
    /// already received `max_receive_count` times move to the dead-letter queue instead and are
    /// returned as dead letters.
    pub async fn receive(
        &self,
        queue: &str,
        max: usize,
    ) -> LocalResult<(Vec<QueueMessage>, Vec<DeadLetter>)> {
        let spec = self.spec(queue)?.clone();
        // The lease of a received message: the visibility timeout, and never less than the time
        // its consumer may take (the two differ only when delays are scaled down).
        let lease = self
            .time
            .delay_seconds(f64::from(spec.visibility_timeout_seconds))
            .max(
                self.time
                    .timeout_seconds(f64::from(spec.consumer_timeout_seconds)),
            );
        let visibility_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        self.db
            .call(move |db| {
                let now = now_ms();
                let candidates: Vec<QueueMessage> = {
                    let mut statement = db.prepare_cached(
                        "SELECT id, body, receive_count, sent_ms FROM local_messages
                          WHERE queue = ?1 AND state = 'ready' AND visible_ms <= ?2
                          ORDER BY sent_ms, id LIMIT ?3",
                    )?;
                    let rows = statement.query_map(
                        params![spec.name, now, i64::try_from(max * 2 + 10).unwrap_or(i64::MAX)],
                        |row| {
                            Ok(QueueMessage {
                                id: row.get(0)?,
                                queue: spec.name.clone(),
                                body: row.get(1)?,
                                receive_count: row.get(2)?,
                                sent_at_ms: row.get(3)?,
                            })
                        },
                    )?;
                    rows.collect::<Result<_, _>>()?
                };
                let mut received = Vec::new();
                let mut dead = Vec::new();
                for mut message in candidates {
                    if received.len() >= max {
                        break;
                    }
                    if message.receive_count >= spec.max_receive_count {
                        db.execute(
                            "UPDATE local_messages SET queue = ?2, receive_count = 0, visible_ms = ?3,
                                    reported = 0 WHERE id = ?1",
                            params![message.id, spec.dead_letter_queue, now],
                        )?;
                        dead.push(DeadLetter {
                            message,
                            source_queue: spec.name.clone(),
                            dead_letter_queue: spec.dead_letter_queue.clone(),
                        });
                        continue;
                    }
                    message.receive_count += 1;
                    db.prepare_cached(
                        "UPDATE local_messages SET receive_count = ?2, visible_ms = ?3 WHERE id = ?1",
                    )?
                    .execute(params![message.id, message.receive_count, now.saturating_add(visibility_ms)])?;
                    received.push(message);
                }
                Ok((received, dead))
            })
            .await
    }

    /// Deletes processed messages.
    pub async fn delete(&self, ids: Vec<String>) -> LocalResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.db
            .call(move |db| {
                let mut done =
                    db.prepare_cached("UPDATE local_messages SET state = 'done' WHERE id = ?1")?;
                for id in &ids {
                    done.execute([id])?;
                }
                Ok(())
            })
            .await
    }

    /// Makes failed messages visible again one visibility timeout after `received_ms`, when
    /// they were received (SQS leaves them invisible until their visibility timeout expires).
    pub async fn release(
        &self,
        queue: &str,
        ids: Vec<String>,
        received_ms: i64,
    ) -> LocalResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let spec = self.spec(queue)?;
        let visibility = self
            .time
            .delay_seconds(f64::from(spec.visibility_timeout_seconds));
        let visible_ms =
            received_ms.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
        self.db
            .call(move |db| {
                for id in &ids {
                    db.execute(
                        "UPDATE local_messages SET visible_ms = MIN(visible_ms, ?2) WHERE id = ?1 AND state = 'ready'",
                        params![id, visible_ms],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Dead-letter arrivals not yet reported (e.g. because the process died right after the move).
    pub async fn unreported_dead_letters(&self) -> LocalResult<Vec<DeadLetter>> {
        let specs = Arc::clone(&self.specs);
        self.db
            .call(move |db| {
                let mut statement = db.prepare(
                    "SELECT id, queue, source_queue, body, receive_count, sent_ms FROM local_messages
                      WHERE reported = 0",
                )?;
                let rows = statement.query_map([], |row| {
                    Ok(DeadLetter {
                        message: QueueMessage {
                            id: row.get(0)?,
                            queue: row.get(2)?,
                            body: row.get(3)?,
                            receive_count: row.get(4)?,
                            sent_at_ms: row.get(5)?,
                        },
                        dead_letter_queue: row.get(1)?,
                        source_queue: row.get(2)?,
                    })
                })?;
                let letters: Vec<DeadLetter> = rows.collect::<Result<_, _>>()?;
                Ok(letters
                    .into_iter()
                    .map(|mut letter| {
                        if let Some(spec) = specs.get(&letter.source_queue) {
                            letter.message.receive_count = spec.max_receive_count;
                        }
                        letter
                    })
                    .collect())
            })
            .await
    }

    pub async fn mark_reported(&self, id: &str) -> LocalResult<()> {
        let id = id.to_owned();
        self.db
            .call(move |db| {
                db.execute(
                    "UPDATE local_messages SET reported = 1 WHERE id = ?1",
                    [&id],
                )?;
                Ok(())
            })
            .await
    }

    /// Where the messages of `queue` are.
    pub async fn counts(&self, queue: &str) -> LocalResult<QueueCounts> {
        let spec = self.spec(queue)?.clone();
        self.db
            .call(move |db| {
                let now = now_ms();
                let count = |sql: &str, queue: &str| -> rusqlite::Result<u64> {
                    db.query_row(sql, params![queue, now], |row| row.get(0))
                };
                Ok(QueueCounts {
                    visible: count(
                        "SELECT COUNT(*) FROM local_messages WHERE queue = ?1 AND state = 'ready' AND visible_ms <= ?2",
                        &spec.name,
                    )?,
                    in_flight: count(
                        "SELECT COUNT(*) FROM local_messages WHERE queue = ?1 AND state = 'ready' AND visible_ms > ?2",
                        &spec.name,
                    )?,
                    dead: count(
                        "SELECT COUNT(*) FROM local_messages WHERE queue = ?1 AND state = 'ready' AND ?2 = ?2",
                        &spec.dead_letter_queue,
                    )?,
                })
            })
            .await
    }

    /// The messages in `queue`'s dead-letter queue.
    pub async fn dead_letters(&self, queue: &str) -> LocalResult<Vec<QueueMessage>> {
        let spec = self.spec(queue)?.clone();
        self.db
            .call(move |db| {
                let mut statement = db.prepare(
                    "SELECT id, body, receive_count, sent_ms FROM local_messages
                      WHERE queue = ?1 AND state = 'ready' ORDER BY sent_ms, id",
                )?;
                let rows = statement.query_map([&spec.dead_letter_queue], |row| {
                    Ok(QueueMessage {
                        id: row.get(0)?,
                        queue: spec.dead_letter_queue.clone(),
                        body: row.get(1)?,
                        receive_count: row.get(2)?,
                        sent_at_ms: row.get(3)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }
}
