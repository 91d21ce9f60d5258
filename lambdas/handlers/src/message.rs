//! Queue messages: each carries one EventBridge event whose `detail` is a platform event record.
//! A processor handles one message at a time; [`process_batch`] runs a batch and reports the
//! messages that failed (SQS partial batch failure), so only those are delivered again.

use std::future::Future;

use eventforge_core::Event;
use serde_json::Value;

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

/// Runs `process` on every `(message id, body)` of the batch, one after the other; returns the
/// ids of the messages that failed.
pub async fn process_batch<F, Fut>(
    messages: impl IntoIterator<Item = (String, String)>,
    mut process: F,
) -> Vec<String>
where
    F: FnMut(Event) -> Fut,
    Fut: Future<Output = Result<(), ProcessError>>,
{
    let mut failed = Vec::new();
    for (id, body) in messages {
        let outcome = match event_of(&body) {
            Ok(event) => process(event).await,
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = %id, %error, "message failed; it will be delivered again");
            failed.push(id);
        }
    }
    failed
}
