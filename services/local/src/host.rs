//! What the runtime calls to run code: a named function with a JSON payload (a saga step) or a
//! batch of queue messages (a processor). In `cargo xtask dev` the handlers run in-process
//! ([`crate::Functions`], filled by `eventforge_application::local::functions`); tests use small hosts
//! of their own.

use async_trait::async_trait;
use serde_json::{Value, json};

/// A function's failure as Lambda reports it: the error type is what `Retry` and `Catch` match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {cause}")]
pub struct FunctionError {
    pub error_type: String,
    pub cause: String,
}

impl FunctionError {
    pub fn new(error_type: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            cause: cause.into(),
        }
    }
}

/// One message handed to a queue consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub queue: String,
    /// The EventBridge event, as JSON text (what SQS carries).
    pub body: String,
    /// Deliveries so far, this one included.
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

impl QueueMessage {
    /// The message as a record of an SQS event (`aws_lambda_events::sqs::SqsMessage`'s shape).
    pub fn to_sqs_record(&self) -> Value {
        json!({
            "messageId": self.id,
            "receiptHandle": self.id,
            "body": self.body,
            "attributes": {
                "ApproximateReceiveCount": self.receive_count.to_string(),
                "SentTimestamp": self.sent_at_ms.to_string(),
            },
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:local:000000000000:{}", self.queue),
            "awsRegion": "local",
        })
    }
}

/// An SQS event for a batch, as Lambda receives it.
pub fn sqs_event(batch: &[QueueMessage]) -> Value {
    json!({ "Records": batch.iter().map(QueueMessage::to_sqs_record).collect::<Vec<_>>() })
}

#[async_trait]
pub trait FunctionHost: Send + Sync {
    /// Invokes `function` with `payload`: its result, or its error.
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, FunctionError>;

    /// Hands a batch to the queue consumer `function`. `Ok` lists the messages that failed (a
    /// partial batch failure); `Err` fails the whole batch.
    async fn process_batch(
        &self,
        function: &str,
        batch: &[QueueMessage],
    ) -> Result<Vec<String>, FunctionError>;
}
