//! Queue messages: each carries one EventBridge event whose `detail` is a platform event record.
//! A [`Processor`] handles one message's event; [`process_batch`] runs a batch's messages
//! together and reports those that failed (SQS partial batch failure), so only they are
//! delivered again.

use std::future::Future;

use async_trait::async_trait;
use futures::future::join_all;

use eventforge_core::Event;
use eventforge_topology::Queue;
use serde_json::Value;

/// The processor of one work queue: one event in, done or failed. The local runtime
/// (`local::functions`) and the Lambda binaries (`eventforge-functions`) both serve a processor
/// through [`serve_batch`]; they differ only in the dependencies they give it.
#[async_trait]
pub trait Processor: Send + Sync + 'static {
    /// The queue whose messages this processor handles.
    const QUEUE: Queue;

    async fn process(&self, event: Event) -> Result<(), ProcessError>;
}

/// Runs `processor` over a batch of `(message id, body)`; returns the ids of the messages that
/// failed.
pub async fn serve_batch<P: Processor>(
    processor: &P,
    messages: impl IntoIterator<Item = (String, String)>,
) -> Vec<String> {
    process_batch(messages, |event| processor.process(event)).await
}

/// Why a message could not be processed. Every failure makes SQS deliver the message again,
/// until its queue's maxReceiveCount sends it to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("the message is not an EventBridge event with a platform event record: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<eventforge_core::StoreError> for ProcessError {
    fn from(error: eventforge_core::StoreError) -> Self {
        Self::Failed(error.to_string())
    }
}

/// The platform event inside an SQS message body (an EventBridge envelope).
pub fn event_of(body: &str) -> Result<Event, ProcessError> {
    let envelope: Value =
        serde_json::from_str(body).map_err(|e| ProcessError::Unreadable(e.to_string()))?;
    let detail = envelope
        .get("detail")
        .cloned()
        .ok_or_else(|| ProcessError::Unreadable("no detail".to_owned()))?;
    serde_json::from_value(detail).map_err(|e| ProcessError::Unreadable(e.to_string()))
}

/// Runs `process` on every `(message id, body)` of the batch, all at once (the processors wait
/// on I/O, and a standard queue promises no order); returns the ids of the messages that failed.
pub async fn process_batch<F, Fut>(
    messages: impl IntoIterator<Item = (String, String)>,
    mut process: F,
) -> Vec<String>
where
    F: FnMut(Event) -> Fut,
    Fut: Future<Output = Result<(), ProcessError>>,
{
    let outcomes = messages.into_iter().map(|(id, body)| {
        let processing = event_of(&body).map(&mut process);
        async move {
            let outcome = match processing {
                Ok(processing) => processing.await,
                Err(error) => Err(error),
            };
            outcome.map_err(|error| {
                tracing::warn!(message_id = %id, %error, "message failed; it will be delivered again");
                id
            })
        }
    });
    join_all(outcomes)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventforge_core::{EventType, OrderId, UserId};
    use std::time::Duration;
    use tokio::sync::Barrier;

    fn message(id: &str, detail: Value) -> (String, String) {
        let event = Event::about_order(
            "order.confirmed".parse::<EventType>().unwrap(),
            OrderId::generate(),
            UserId("u1".into()),
            time::OffsetDateTime::now_utc(),
            detail,
        );
        let body = serde_json::json!({ "detail": event }).to_string();
        (id.to_owned(), body)
    }

    #[tokio::test]
    async fn only_the_messages_that_failed_or_could_not_be_read_are_reported() {
        let batch = vec![
            message("ok-1", serde_json::json!({ "fail": false })),
            message("bad", serde_json::json!({ "fail": true })),
            ("unreadable".to_owned(), "not json".to_owned()),
            message("ok-2", serde_json::json!({ "fail": false })),
        ];
        let failed = process_batch(batch, |event| async move {
            if event.detail["fail"] == true {
                Err(ProcessError::Failed("declined".into()))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(failed, vec!["bad".to_owned(), "unreadable".to_owned()]);
    }

    #[tokio::test]
    async fn the_messages_of_a_batch_are_processed_together() {
        // Each message waits for all the others: one at a time, the first would wait forever.
        let barrier = std::sync::Arc::new(Barrier::new(3));
        let batch = (0..3).map(|n| message(&n.to_string(), Value::Null));
        let processing = process_batch(batch, |_event| {
            let barrier = std::sync::Arc::clone(&barrier);
            async move {
                barrier.wait().await;
                Ok(())
            }
        });
        let failed = tokio::time::timeout(Duration::from_secs(10), processing)
            .await
            .expect("the batch's messages ran concurrently");
        assert!(failed.is_empty());
    }
}
