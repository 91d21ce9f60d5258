//! [`Functions`]: a [`FunctionHost`] over closures registered by name, the shape in which the
//! handler crates are mounted in-process. Invoking a name nobody registered fails like Lambda's
//! `ResourceNotFoundException`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::host::{FunctionError, FunctionHost, QueueMessage};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type StepFn = Arc<dyn Fn(Value) -> BoxFuture<Result<Value, FunctionError>> + Send + Sync>;
type BatchFn =
    Arc<dyn Fn(Vec<QueueMessage>) -> BoxFuture<Result<Vec<String>, FunctionError>> + Send + Sync>;

/// Functions by name.
#[derive(Clone, Default)]
pub struct Functions {
    steps: BTreeMap<String, StepFn>,
    consumers: BTreeMap<String, BatchFn>,
}

impl Functions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` as a function invoked with a JSON payload.
    pub fn step<F, Fut>(mut self, name: &str, function: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, FunctionError>> + Send + 'static,
    {
        self.steps.insert(
            name.to_owned(),
            Arc::new(move |payload| Box::pin(function(payload))),
        );
        self
    }

    /// Registers `name` as a queue consumer: it gets a batch and returns the failed message ids.
    pub fn consumer<F, Fut>(mut self, name: &str, function: F) -> Self
    where
        F: Fn(Vec<QueueMessage>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, FunctionError>> + Send + 'static,
    {
        self.consumers.insert(
            name.to_owned(),
            Arc::new(move |batch| Box::pin(function(batch))),
        );
        self
    }

    /// Every registered name, steps and consumers.
    pub fn names(&self) -> Vec<String> {
        self.steps
            .keys()
            .chain(self.consumers.keys())
            .cloned()
            .collect()
    }
}

fn not_found(name: &str) -> FunctionError {
    FunctionError::new(
        "Lambda.ResourceNotFoundException",
        format!("no function named {name} runs locally"),
    )
}

#[async_trait]
impl FunctionHost for Functions {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, FunctionError> {
        let step = self
            .steps
            .get(function)
            .ok_or_else(|| not_found(function))?;
        // A panicking handler is a failed invocation, as a crashed Lambda runtime would be.
        match tokio::spawn(step(payload)).await {
            Ok(result) => result,
            Err(join) => Err(FunctionError::new(
                "Lambda.Unknown",
                format!("{function} panicked: {join}"),
            )),
        }
    }

    async fn process_batch(
        &self,
        function: &str,
        batch: &[QueueMessage],
    ) -> Result<Vec<String>, FunctionError> {
        let consumer = self
            .consumers
            .get(function)
            .ok_or_else(|| not_found(function))?;
        match tokio::spawn(consumer(batch.to_vec())).await {
            Ok(result) => result,
            Err(join) => Err(FunctionError::new(
                "Lambda.Unknown",
                format!("{function} panicked: {join}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn registered_functions_are_invoked_by_name_and_others_are_not_found() {
        let functions = Functions::new()
            .step("double", |payload: Value| async move {
                Ok(json!(payload.as_i64().unwrap_or_default() * 2))
            })
            .consumer("fail-all", |batch: Vec<QueueMessage>| async move {
                Ok(batch.into_iter().map(|m| m.id).collect())
            });
        assert_eq!(functions.invoke("double", json!(21)).await, Ok(json!(42)));
        let missing = functions.invoke("triple", json!(1)).await.unwrap_err();
        assert_eq!(missing.error_type, "Lambda.ResourceNotFoundException");
        let message = QueueMessage {
            id: "m1".into(),
            queue: "q".into(),
            body: "{}".into(),
            receive_count: 1,
            sent_at_ms: 0,
        };
        assert_eq!(
            functions.process_batch("fail-all", &[message]).await,
            Ok(vec!["m1".to_owned()])
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_failed_invocation() {
        let functions = Functions::new().step("boom", |_payload: Value| async move {
            if true {
                panic!("handler bug");
            }
            Ok(Value::Null)
        });
        let error = functions.invoke("boom", Value::Null).await.unwrap_err();
        assert_eq!(error.error_type, "Lambda.Unknown");
    }
}
