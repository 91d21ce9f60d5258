//! The handlers mounted in the local runtime: every function of the platform, by the name the
//! stacks give it, over one store and local stand-ins for AWS (an email outbox folder, a
//! receipts folder, the simulated payment provider).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, Store, SystemClock};
use eventforge_local::{FunctionError, Functions, QueueMessage};
use serde_json::Value;

use crate::email::{self, EmailDeps, ExampleAddresses, OutboxFolder};
use crate::message::{ProcessError, process_batch};
use crate::payment::{PaymentProvider, SimulatedPayment};
use crate::receipt::{self, ReceiptDeps, ReceiptFolder};
use crate::saga::{SagaDeps, Step, StepError};
use crate::webhook::{self, RetryPolicy, WebhookDeps};

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
}

impl LocalPlatform {
    /// The platform as `cargo xtask dev` runs it: the system clock, the simulated payment
    /// provider, default webhook retries, emails in `<dir>/outbox` and receipts in
    /// `<dir>/receipts`.
    pub fn in_dir(store: Arc<dyn Store>, dir: &Path, webhook_policy: UrlPolicy) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            payments: Arc::new(SimulatedPayment::new()),
            email_outbox: dir.join("outbox"),
            receipts_dir: dir.join("receipts"),
            webhook_policy,
            webhook_retry: RetryPolicy::default(),
        }
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
        Box::pin(async move { saga_step.run(&deps, &state).await.map_err(function_error) })
    }
}

/// A processor as a queue consumer: partial batch failures, never a failed batch.
fn consumer<D, F, Fut>(deps: D, handler: F) -> impl Fn(Vec<QueueMessage>) -> futures_step::Batch
where
    D: Clone + Send + Sync + 'static,
    F: Fn(D, eventforge_core::Event) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ProcessError>> + Send + 'static,
{
    move |batch| {
        let (deps, handler) = (deps.clone(), handler.clone());
        Box::pin(async move {
            let messages = batch.into_iter().map(|m| (m.id, m.body));
            Ok(process_batch(messages, |event| handler(deps.clone(), event)).await)
        })
    }
}

mod futures_step {
    use std::future::Future;
    use std::pin::Pin;

    use eventforge_local::FunctionError;
    use serde_json::Value;

    pub type Step = Pin<Box<dyn Future<Output = Result<Value, FunctionError>> + Send>>;
    pub type Batch = Pin<Box<dyn Future<Output = Result<Vec<String>, FunctionError>> + Send>>;
}

/// Every function of the platform except the outbox publisher (the runtime drains the outbox
/// itself), named as in `stacks::platform::functions`.
pub fn functions(platform: &LocalPlatform) -> Functions {
    let saga = SagaDeps {
        store: platform.store.clone(),
        clock: platform.clock.clone(),
        payments: platform.payments.clone(),
    };
    let email = EmailDeps {
        store: platform.store.clone(),
        clock: platform.clock.clone(),
        sink: Arc::new(OutboxFolder::new(&platform.email_outbox)),
        recipients: Arc::new(ExampleAddresses),
    };
    let receipts = ReceiptDeps {
        store: platform.store.clone(),
        clock: platform.clock.clone(),
        receipts: Arc::new(ReceiptFolder::new(&platform.receipts_dir)),
    };
    let webhooks = WebhookDeps {
        store: platform.store.clone(),
        clock: platform.clock.clone(),
        policy: platform.webhook_policy,
        retry: platform.webhook_retry,
    };
    let functions = Step::ALL
        .into_iter()
        .fold(Functions::new(), |functions, saga_step| {
            functions.step(saga_step.function_name(), step(&saga, saga_step))
        });
    functions
        .consumer(
            "email-processor",
            consumer(email, |d: EmailDeps, e| async move {
                email::process(&d, e).await
            }),
        )
        .consumer(
            "receipt-processor",
            consumer(receipts, |d: ReceiptDeps, e| async move {
                receipt::process(&d, e).await
            }),
        )
        .consumer(
            "webhook-processor",
            consumer(webhooks, |d: WebhookDeps, e| async move {
                webhook::process(&d, e).await
            }),
        )
}
