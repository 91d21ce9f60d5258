//! Small function hosts for the runtime's own specifications.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use eventforge_local::{FunctionError, FunctionHost, QueueMessage};
use serde_json::{Value, json};

/// What a scripted function does on one call.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Returns this value.
    Ok(Value),
    /// Returns its input with `{"function": name}` merged in as its result.
    Echo,
    Err(&'static str, &'static str),
    /// Never answers within any timeout.
    Hang,
}

/// Functions answering from scripts: queued replies first, then the default reply.
#[derive(Default)]
pub struct ScriptedHost {
    queued: Mutex<HashMap<String, VecDeque<Reply>>>,
    defaults: Mutex<HashMap<String, Reply>>,
    pub calls: Mutex<Vec<(String, Value)>>,
    /// Per queue consumer: message ids processed (each delivery).
    pub batches: Mutex<BTreeMap<String, Vec<String>>>,
    /// Consumers that fail every message.
    pub failing_consumers: Mutex<Vec<String>>,
}

impl ScriptedHost {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn always(self, function: &str, reply: Reply) -> Self {
        self.defaults
            .lock()
            .unwrap()
            .insert(function.to_owned(), reply);
        self
    }

    pub fn then(self, function: &str, reply: Reply) -> Self {
        self.queued
            .lock()
            .unwrap()
            .entry(function.to_owned())
            .or_default()
            .push_back(reply);
        self
    }

    pub fn failing_consumer(self, function: &str) -> Self {
        self.failing_consumers
            .lock()
            .unwrap()
            .push(function.to_owned());
        self
    }

    pub fn calls_of(&self, function: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == function)
            .map(|(_, payload)| payload.clone())
            .collect()
    }

    pub fn functions_called(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(f, _)| f.clone())
            .collect()
    }
}

#[async_trait]
impl FunctionHost for ScriptedHost {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, FunctionError> {
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), payload.clone()));
        let reply = {
            let queued = self
                .queued
                .lock()
                .unwrap()
                .get_mut(function)
                .and_then(VecDeque::pop_front);
            queued
                .or_else(|| self.defaults.lock().unwrap().get(function).cloned())
                .unwrap_or(Reply::Echo)
        };
        match reply {
            Reply::Ok(value) => Ok(value),
            Reply::Echo => Ok(json!({ "function": function })),
            Reply::Err(error_type, cause) => Err(FunctionError::new(error_type, cause)),
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Value::Null)
            }
        }
    }

    async fn process_batch(
        &self,
        function: &str,
        batch: &[QueueMessage],
    ) -> Result<Vec<String>, FunctionError> {
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        self.batches
            .lock()
            .unwrap()
            .entry(function.to_owned())
            .or_default()
            .extend(ids.iter().cloned());
        if self
            .failing_consumers
            .lock()
            .unwrap()
            .iter()
            .any(|f| f == function)
        {
            Ok(ids)
        } else {
            Ok(Vec::new())
        }
    }
}
