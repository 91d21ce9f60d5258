//! The Lambda side of EventForge: every function of `stacks::platform::functions` is a binary
//! of this crate (`src/bin/<function>.rs`, built into `<function>/bootstrap.zip` by
//! `cargo lambda build`), and each binary is one call into this library, which connects a
//! handler of `eventforge-handlers` to `lambda_runtime` and to AWS:
//!
//! - saga steps ([`run_saga_step`]): the state machine's payload in, the step's result out; a
//!   business outcome becomes the Lambda error type the state machine catches (`OutOfStock`,
//!   `PaymentDeclined`, ...), a store failure `Transient`, which it retries.
//! - queue processors ([`run_email_processor`], [`run_receipt_processor`],
//!   [`run_webhook_processor`]): SQS batches with partial batch failures, over SES, S3 and HTTPS.
//! - the outbox publisher ([`run_outbox_publisher`]): the table's stream to EventBridge.
//!
//! Configuration comes from the environment the functions stack sets ([`Settings`]); AWS
//! credentials, region and endpoint from the standard chain (so `AWS_ENDPOINT_URL` points every
//! client at an emulator in the tests).

mod aws;
pub mod publisher;
mod settings;

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, Event, Store, SystemClock};
use eventforge_handlers::email::{self, EmailDeps};
use eventforge_handlers::message::{ProcessError, process_batch};
use eventforge_handlers::payment::SimulatedPayment;
use eventforge_handlers::receipt::{self, ReceiptDeps};
use eventforge_handlers::saga::{SagaDeps, Step, StepError};
use eventforge_handlers::webhook::{self, RetryPolicy, WebhookDeps};
use eventforge_store_dynamodb::DynamoStore;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;

pub use aws::{CognitoRecipients, S3Receipts, S3ReceiptsError, SesEmail};
pub use settings::{Settings, SettingsError};

/// What every function is built on, once per execution environment (not per invocation).
struct Platform {
    settings: Settings,
    aws: aws_config::SdkConfig,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Platform {
    async fn from_environment() -> Result<Self, Error> {
        init_logs();
        let settings = Settings::from_environment()?;
        let aws = aws::load_sdk_config().await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.table_name);
        Ok(Self {
            settings,
            aws,
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
        })
    }
}

/// JSON lines, with the runtime's span (request id, X-Ray trace id) on every line.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests calling twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .try_init();
}

/// A step's business or transient failure as the error Lambda reports to the state machine.
#[derive(Debug)]
pub struct StepFailure(pub StepError);

impl From<StepFailure> for Diagnostic {
    fn from(failure: StepFailure) -> Self {
        Diagnostic {
            error_type: failure.0.error_type().to_owned(),
            error_message: failure.0.to_string(),
        }
    }
}

/// Serves `step` of the saga. Payments go to the simulated provider (see
/// `eventforge_handlers::payment`); a real provider is a `PaymentProvider` away.
pub async fn run_saga_step(step: Step) -> Result<(), Error> {
    let platform = Platform::from_environment().await?;
    let deps = SagaDeps {
        store: platform.store,
        clock: platform.clock,
        payments: Arc::new(SimulatedPayment::new()),
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = deps.clone();
        async move { step.run(&deps, &event.payload).await.map_err(StepFailure) }
    }))
    .await
}

/// Serves an SQS queue with `process`, answering with the messages that failed so only those
/// come again (`ReportBatchItemFailures` on the event source mapping).
async fn serve_queue<D, F, Fut>(deps: D, process: F) -> Result<(), Error>
where
    D: Clone + Send + Sync + 'static,
    F: Fn(D, Event) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ProcessError>> + Send,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (deps, process) = (deps.clone(), process.clone());
        async move {
            let messages = event.payload.records.into_iter().map(|message| {
                (
                    message.message_id.unwrap_or_default(),
                    message.body.unwrap_or_default(),
                )
            });
            let failed = process_batch(messages, |event| process(deps.clone(), event)).await;
            let mut response = SqsBatchResponse::default();
            response.set_failures(failed);
            Ok::<_, Error>(response)
        }
    }))
    .await
}

/// Serves the email queue: order emails through SES.
pub async fn run_email_processor() -> Result<(), Error> {
    let platform = Platform::from_environment().await?;
    let sender = platform.settings.email_from()?.to_owned();
    let user_pool = platform.settings.user_pool_id()?.to_owned();
    let deps = EmailDeps {
        store: platform.store,
        clock: platform.clock,
        sink: Arc::new(SesEmail::new(&platform.aws, sender)),
        recipients: Arc::new(CognitoRecipients::new(&platform.aws, user_pool)),
    };
    serve_queue(deps, |deps: EmailDeps, event| async move {
        email::process(&deps, event).await
    })
    .await
}

/// Serves the receipt queue: PDF receipts into the receipts bucket.
pub async fn run_receipt_processor() -> Result<(), Error> {
    let platform = Platform::from_environment().await?;
    let bucket = platform.settings.receipts_bucket()?.to_owned();
    let deps = ReceiptDeps {
        store: platform.store,
        clock: platform.clock,
        receipts: Arc::new(S3Receipts::new(&platform.aws, bucket)?),
    };
    serve_queue(deps, |deps: ReceiptDeps, event| async move {
        receipt::process(&deps, event).await
    })
    .await
}

/// Serves the webhook queue: signed deliveries to public addresses only.
pub async fn run_webhook_processor() -> Result<(), Error> {
    let platform = Platform::from_environment().await?;
    let deps = WebhookDeps {
        store: platform.store,
        clock: platform.clock,
        policy: UrlPolicy::PublicHttpsOnly,
        retry: RetryPolicy::default(),
    };
    serve_queue(deps, |deps: WebhookDeps, event| async move {
        webhook::process(&deps, event).await
    })
    .await
}

/// Serves the table's stream: new outbox events onto the bus, in order, then marked published.
pub async fn run_outbox_publisher() -> Result<(), Error> {
    let platform = Platform::from_environment().await?;
    let bus = publisher::Bus {
        client: aws_sdk_eventbridge::Client::new(&platform.aws),
        name: platform.settings.event_bus_name()?.to_owned(),
    };
    let (store, clock) = (platform.store, platform.clock);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let (bus, store, now) = (bus.clone(), store.clone(), clock.now());
        async move {
            Ok::<_, Error>(publisher::publish(&bus, &*store, &event.payload.records, now).await)
        }
    }))
    .await
}
