//! The handlers mounted in the local runtime: every function of the platform, by the name the
//! stacks give it, over one store and local stand-ins for AWS (an email outbox folder, a
//! receipts folder, the simulated payment provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, Store, SystemClock};
use eventforge_local::{FunctionError, Functions, QueueMessage, RuntimeConfig};
use serde_json::Value;

use eventforge_topology::{Function, Queue, Trigger};

use crate::email::{EmailDeps, ExampleAddresses, OutboxFolder};
use crate::message::{Processor, serve_batch};
use crate::payment::{PaymentProvider, SimulatedPayment};
use crate::receipt::{ReceiptDeps, ReceiptFolder};
use crate::saga::{SagaDeps, Step, StepError};
use crate::webhook::{ReqwestTransport, RetryPolicy, WebhookDeps};

/// What the local platform runs on.
pub struct LocalPlatform {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentProvider>,
    /// Where emails are written as `.eml` files.
    pub email_outbox: PathBuf,
    /// Where receipts are written (the folder the API serves at `/files/receipts/`).
    pub receipts_dir: PathBuf,
    pub webhook_policy: UrlPolicy,
    pub webhook_retry: RetryPolicy,
    /// The SQLite file of the runtime's own tables (executions, queues, deliveries).
    pub runtime_db: PathBuf,
}

impl LocalPlatform {
    /// The platform as `cargo xtask dev` runs it: the system clock, the simulated payment
    /// provider, default webhook retries, emails in `<dir>/outbox`, receipts in `<dir>/receipts`
    /// and the runtime's tables in `<dir>/runtime.db`.
    pub fn in_dir(store: Arc<dyn Store>, dir: &Path, webhook_policy: UrlPolicy) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            payments: Arc::new(SimulatedPayment::new()),
            email_outbox: dir.join("outbox"),
            receipts_dir: dir.join("receipts"),
            webhook_policy,
            webhook_retry: RetryPolicy::default(),
            runtime_db: dir.join("runtime.db"),
        }
    }

    /// The local runtime of this platform, ready for `Runtime::start`: every function mounted
    /// ([`functions`]) as its host, the saga, rules and queues of the topology, in real time.
    /// `cargo xtask dev`, the saga benchmark and the tests all start the platform from here; they
    /// differ only in what they change before starting it (a host that records spans or counts
    /// finished sagas, a faster clock).
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig::new(
            Arc::clone(&self.store),
            &self.runtime_db,
            Arc::new(functions(self)),
        )
    }
}

fn function_error(error: StepError) -> FunctionError {
    FunctionError::new(error.error_type(), error.to_string())
}

/// A saga step as a runtime function.
fn step(deps: &SagaDeps, saga_step: Step) -> impl Fn(Value) -> futures_step::Step + use<> {
    let deps = deps.clone();
    move |state| {
        let deps = deps.clone();
        Box::pin(async move {
            saga_step
                .handle(&deps, &state)
                .await
                .map_err(function_error)
        })
    }
}

/// A processor as a queue consumer: partial batch failures, never a failed batch.
fn consumer<P: Processor>(processor: P) -> impl Fn(Vec<QueueMessage>) -> futures_step::Batch {
    let processor = Arc::new(processor);
    move |batch| {
        let processor = processor.clone();
        Box::pin(async move {
            let messages = batch.into_iter().map(|m| (m.id, m.body));
            Ok(serve_batch(&*processor, messages).await)
        })
    }
}

mod futures_step {
    use std::pin::Pin;

    use eventforge_local::FunctionError;
    use serde_json::Value;

    pub type Step = Pin<Box<dyn Future<Output = Result<Value, FunctionError>> + Send>>;
    pub type Batch = Pin<Box<dyn Future<Output = Result<Vec<String>, FunctionError>> + Send>>;
}

/// Every function of the platform except the outbox publisher (the runtime drains the outbox
/// itself), under its [`Function::name`]. A function added to the topology is a compile error
/// here until it is mounted.
pub fn functions(platform: &LocalPlatform) -> Functions {
    let saga = SagaDeps {
        store: platform.store.clone(),
        clock: platform.clock.clone(),
        payments: platform.payments.clone(),
    };
    Function::ALL
        .into_iter()
        .fold(Functions::new(), |functions, function| {
            // `Step::of` and `mount_processor` match every function and queue: a new one does
            // not compile until it is mounted or said not to be.
            match (Step::of(function), function.trigger()) {
                (Some(saga_step), _) => functions.step(function.name(), step(&saga, saga_step)),
                (None, Trigger::Queue(queue)) => mount_processor(functions, platform, queue),
                (None, Trigger::Saga | Trigger::TableStream) => functions,
            }
        })
}

/// Mounts the processor of `queue` under its consumer's name.
fn mount_processor(functions: Functions, platform: &LocalPlatform, queue: Queue) -> Functions {
    match queue {
        Queue::Email => mount(
            functions,
            EmailDeps {
                store: platform.store.clone(),
                clock: platform.clock.clone(),
                sink: Arc::new(OutboxFolder::new(&platform.email_outbox)),
                recipients: Arc::new(ExampleAddresses),
            },
        ),
        Queue::Receipt => mount(
            functions,
            ReceiptDeps {
                store: platform.store.clone(),
                clock: platform.clock.clone(),
                receipts: Arc::new(ReceiptFolder::new(&platform.receipts_dir)),
            },
        ),
        Queue::Webhook => mount(
            functions,
            WebhookDeps {
                store: platform.store.clone(),
                clock: platform.clock.clone(),
                transport: Arc::new(ReqwestTransport),
                policy: platform.webhook_policy,
                retry: platform.webhook_retry,
            },
        ),
    }
}

/// A processor as the consumer function of its queue.
fn mount<P: Processor>(functions: Functions, processor: P) -> Functions {
    functions.consumer(P::QUEUE.consumer().name(), consumer(processor))
}
