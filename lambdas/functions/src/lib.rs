//! The Lambda side of EventForge: every [`eventforge_topology::Function`] is a binary
//! of this crate (`src/bin/<function>.rs`, built into `<function>/bootstrap.zip` by
//! `cargo lambda build`), and each binary is one call into this library, which connects a
//! handler of `eventforge-application` to `lambda_runtime` and to AWS:
//!
//! - saga steps: the state machine's payload in, the step's result out; a business outcome
//!   becomes the Lambda error type the state machine catches (`OutOfStock`,
//!   `PaymentDeclined`, ...), a store failure `Transient`, which it retries.
//! - queue processors (`eventforge_application::message::Processor`): SQS batches with partial
//!   batch failures, over SES, S3 and HTTPS.
//! - the outbox publisher: the table's stream to EventBridge.
//!
//! Each binary's `main` is `run(Function::...)` ([`run`]).
//!
//! Configuration comes from the environment the functions stack sets ([`Settings`]); AWS
//! credentials and region from the variables Lambda sets in every execution environment, and
//! `AWS_ENDPOINT_URL` points every client at an emulator in the tests (see `aws.rs`).

mod aws;
pub mod publisher;
mod settings;

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use eventforge_application::email::EmailDeps;
use eventforge_application::message::{Processor, serve_batch};
use eventforge_application::payment::SimulatedPayment;
use eventforge_application::receipt::ReceiptDeps;
use eventforge_application::saga::{SagaDeps, Step, StepError};
use eventforge_application::webhook::{RetryPolicy, WebhookDeps};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, SystemClock};
use eventforge_store_dynamodb::DynamoStore;
use eventforge_topology::{Function, Queue, Trigger};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use aws::{CognitoRecipients, PinnedHttpsTransport, S3Receipts, SesEmail};
pub use settings::{Settings, SettingsError};

/// What every function is built on, once per execution environment (not per invocation). The
/// store is the concrete `DynamoStore`: it becomes a `dyn Store` only in the functions that take
/// one, so a saga step's zip keeps the store methods the steps call (see `SagaDeps`).
struct Platform {
    settings: Settings,
    aws: aws_config::SdkConfig,
    store: Arc<DynamoStore>,
    clock: Arc<dyn Clock>,
}

impl Platform {
    fn from_environment() -> Result<Self, Error> {
        init_logs();
        let settings = Settings::from_environment()?;
        let aws = aws::lambda_sdk_config()?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.table_name);
        Ok(Self {
            settings,
            aws,
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
        })
    }
}

/// JSON lines, with the runtime's span (request id, X-Ray trace id) on every line. `RUST_LOG`
/// sets the levels as `target=level` directives (default `info`): tracing-subscriber's
/// `Targets`, not its `EnvFilter`, whose regular expressions (for span and field matching, which
/// nothing here uses) were 4% of each zip.
fn init_logs() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    // A second initialisation (tests calling twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .finish()
        .with(filter)
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

/// Serves `function`: the one call each binary's `main` makes. A function added to the topology
/// is a compile error here (through [`Step::of`] and the match on its queue) until it is served.
///
/// Not async, and inlined into each `main` with its constant `function`, so the compiler folds
/// the match and keeps only the arm that binary serves: a saga step's zip carries no SES,
/// Cognito, EventBridge or webhook HTTP client. (With an async `run` the match sat inside the
/// future, out of the optimiser's reach, and every zip held every function's code: BENCHMARKS.md,
/// "Functions: what is in a zip".) The runtime has one thread: an execution environment handles one event at a time,
/// and starting no worker threads is part of the cold start.
#[inline(always)]
pub fn run(function: Function) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match (Step::of(function), function.trigger()) {
        (Some(step), _) => runtime.block_on(run_saga_step(step)),
        (None, Trigger::Queue(Queue::Email)) => runtime.block_on(serve_email()),
        (None, Trigger::Queue(Queue::Receipt)) => runtime.block_on(serve_receipts()),
        (None, Trigger::Queue(Queue::Webhook)) => runtime.block_on(serve_webhooks()),
        (None, Trigger::TableStream) => runtime.block_on(run_outbox_publisher()),
        (None, Trigger::Saga) => {
            Err(format!("{function} is a saga function without a step").into())
        }
    }
}

/// Serves `step` of the saga. Payments go to the simulated provider (see
/// `eventforge_application::payment`); a real provider is a `PaymentProvider` away.
async fn run_saga_step(step: Step) -> Result<(), Error> {
    let platform = Platform::from_environment()?;
    let deps = SagaDeps {
        store: platform.store,
        clock: platform.clock,
        payments: Arc::new(SimulatedPayment::new()),
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let deps = deps.clone();
        async move {
            step.handle(&deps, &event.payload)
                .await
                .map_err(StepFailure)
        }
    }))
    .await
}

/// Order emails through SES, to the address the user pool holds.
async fn serve_email() -> Result<(), Error> {
    let platform = Platform::from_environment()?;
    let sender = platform.settings.email_from()?.to_owned();
    let user_pool = platform.settings.user_pool_id()?.to_owned();
    serve_queue(EmailDeps {
        sink: Arc::new(SesEmail::new(&platform.aws, sender)),
        recipients: Arc::new(CognitoRecipients::new(&platform.aws, user_pool)),
        store: platform.store,
        clock: platform.clock,
    })
    .await
}

/// PDF receipts into the receipts bucket.
async fn serve_receipts() -> Result<(), Error> {
    let platform = Platform::from_environment()?;
    let bucket = platform.settings.receipts_bucket()?.to_owned();
    serve_queue(ReceiptDeps {
        receipts: Arc::new(S3Receipts::new(&platform.aws, bucket)?),
        store: platform.store,
        clock: platform.clock,
    })
    .await
}

/// Signed webhook deliveries, to public HTTPS addresses only.
async fn serve_webhooks() -> Result<(), Error> {
    let platform = Platform::from_environment()?;
    serve_queue(WebhookDeps {
        store: platform.store,
        clock: platform.clock,
        transport: Arc::new(PinnedHttpsTransport),
        policy: UrlPolicy::PublicHttpsOnly,
        retry: RetryPolicy::default(),
    })
    .await
}

/// Serves an SQS queue with `processor`, answering with the messages that failed so only those
/// come again (`ReportBatchItemFailures` on the event source mapping).
async fn serve_queue<P: Processor>(processor: P) -> Result<(), Error> {
    let processor = Arc::new(processor);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let processor = processor.clone();
        async move {
            let messages = event.payload.records.into_iter().map(|message| {
                (
                    message.message_id.unwrap_or_default(),
                    message.body.unwrap_or_default(),
                )
            });
            let failed = serve_batch(&*processor, messages).await;
            let mut response = SqsBatchResponse::default();
            response.set_failures(failed);
            Ok::<_, Error>(response)
        }
    }))
    .await
}

/// Serves the table's stream: new outbox events onto the bus, in order, then marked published.
async fn run_outbox_publisher() -> Result<(), Error> {
    let platform = Platform::from_environment()?;
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
