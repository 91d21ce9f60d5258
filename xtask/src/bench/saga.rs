//! `cargo xtask bench saga`: the order flow end to end on the local runtime `cargo xtask dev`
//! runs (SQLite store, saga executor, bus, queues, every processor), and the Lambda binaries
//! themselves: each zip's size and a function's cold start against the Lambda Runtime API.
//!
//! Orders are placed straight into the store (as the API does, without HTTP), all at once; a
//! saga is complete when its final step (ConfirmOrder or MarkOrderFailed) has succeeded, which
//! the benchmark learns from the function host itself rather than by polling the store (whose
//! reads would compete with the sagas for the cores). Latency is the order's creation to its
//! final event, as recorded by the store's clock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_application::commands::{OrderError, place_order};
use eventforge_application::local::LocalPlatform;
use eventforge_application::saga::Step;
use eventforge_core::clock::SystemClock;
use eventforge_core::validation::{CreateOrderRequest, RequestedItem};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{InventoryItem, OrderId, OrderStatus, Store, UserId};
use eventforge_lambda_emulator::{FunctionProcess, Outcome, RuntimeApi};
use eventforge_local::{FunctionError, FunctionHost, QueueMessage, Runtime};
use eventforge_store_sqlite::SqliteStore;
use eventforge_topology::functions as deployed_functions;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::load::percentile;
use crate::artefacts::{BuildProfile, build_lambda_zips, lambda_binary};
use crate::synth::ArchitectureArg;

#[derive(Args)]
pub struct SagaBenchArgs {
    /// Orders placed at once.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub orders: u32,
    /// Times the whole saga run is repeated; the median run is reported, with the spread.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Cold starts measured per function binary.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub cold_starts: u32,
    /// Use the Lambda zips already in <target>/lambda instead of building them.
    #[arg(long)]
    pub no_build: bool,
    /// Replace the `## Saga` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

const SKU: &str = "KEYBOARD-01";
/// Longest a run may take before the benchmark gives up on sagas that never finish.
const RUN_LIMIT: Duration = Duration::from_secs(600);

struct SagaFigures {
    orders: usize,
    elapsed: Duration,
    confirmed: usize,
    latencies: Vec<Duration>,
    /// Where an order's time went, stage by stage, in the order the stages run.
    stages: Vec<Stage>,
    /// The queue consumers' batches (the processors after the saga), by function.
    batches: Vec<BatchFigures>,
}

/// One stage of the orders' way from placement to their final step: a function's work, or the
/// hand-off before it (what the runtime did between two functions).
struct Stage {
    name: String,
    /// Sorted; one per order that went through the stage.
    durations: Vec<Duration>,
}

impl Stage {
    fn mean(&self) -> Duration {
        mean(&self.durations)
    }
}

/// The mean of `durations`; zero when there are none.
fn mean(durations: &[Duration]) -> Duration {
    let count = u32::try_from(durations.len()).unwrap_or(u32::MAX).max(1);
    durations.iter().sum::<Duration>() / count
}

struct BatchFigures {
    function: String,
    batches: usize,
    messages: usize,
    /// Summed over batches (they may overlap).
    busy: Duration,
}

impl SagaFigures {
    fn rate(&self) -> f64 {
        self.orders as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn run(args: &SagaBenchArgs) -> Result<String> {
    // Before the runs, which take minutes: a missing function ends the benchmark at once.
    let binary = lambda_binary(COLD_START_FUNCTION);
    if args.no_build && !binary.is_file() {
        bail!(
            "{} is missing: build the functions (drop --no-build)",
            binary.display()
        );
    }
    // One run varies by a third from the next on a shared 2-core machine: report the median.
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let figures = run_sagas(args.orders as usize).await?;
        eprintln!(
            "run {run} of {}: {:.0} sagas/s, p99 order to final {}",
            args.runs,
            figures.rate(),
            ms(percentile(&figures.latencies, 99.0)),
        );
        runs.push(figures);
    }
    runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    let zips_dir = if args.no_build {
        BuildProfile::Ship.lambda_dir()
    } else {
        build_lambda_zips(ArchitectureArg::host(), BuildProfile::Ship, &[], None)?
    };
    let cold = cold_starts(&binary, args.cold_starts).await?;
    Ok(section(&runs, &zips_dir, &cold, &super::provenance()?))
}

async fn run_sagas(orders: usize) -> Result<SagaFigures> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("bench.db"))?);
    store
        .put_inventory(&InventoryItem {
            sku: SKU.parse()?,
            name: "Keyboard".into(),
            unit_price_minor: 4_900,
            currency: "EUR".parse()?,
            stock: u32::MAX / 2,
        })
        .await?;
    let platform =
        LocalPlatform::in_dir(Arc::clone(&store), dir.path(), UrlPolicy::PublicHttpsOnly);
    let mut config = platform.runtime_config();
    let finish_line = Arc::new(FinishLine::new(config.host));
    config.host = Arc::clone(&finish_line) as Arc<dyn FunctionHost>;
    let runtime = Runtime::start(config).await?;

    let started = Instant::now();
    let placing = (0..orders).map(|n| {
        let store = Arc::clone(&store);
        let finish_line = Arc::clone(&finish_line);
        tokio::spawn(async move {
            let request = CreateOrderRequest {
                items: vec![RequestedItem {
                    sku: SKU.into(),
                    quantity: 1,
                }],
            };
            let user = UserId(format!("bench-{}", n % 50));
            let asked = Instant::now();
            let id = place_order(store.as_ref(), &SystemClock, &user, &request, None, None)
                .await?
                .into_order()
                .id;
            finish_line
                .timeline
                .record(PLACEMENT, Some(id.to_string()), asked, 1);
            Ok::<_, OrderError>(id)
        })
    });
    let mut placed_ids: Vec<OrderId> = Vec::with_capacity(orders);
    for placed in placing.collect::<Vec<_>>() {
        placed_ids.push(placed.await??);
    }
    tokio::time::timeout(RUN_LIMIT, finish_line.reached(orders))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{} of {orders} sagas did not finish within {} s",
                orders - finish_line.finished(),
                RUN_LIMIT.as_secs()
            )
        })?;
    let elapsed = started.elapsed();
    runtime.stop().await;
    let mut latencies = Vec::with_capacity(orders);
    let mut confirmed = 0;
    for id in placed_ids {
        let order = store
            .get_order(id)
            .await?
            .context("a placed order vanished")?;
        match order.status {
            OrderStatus::Confirmed | OrderStatus::Failed => {
                confirmed += usize::from(order.status == OrderStatus::Confirmed);
                let took = order.updated_at - order.created_at;
                latencies.push(took.try_into().unwrap_or_default());
            }
            status => bail!("order {id} ended the run {status:?}, not final"),
        }
    }
    latencies.sort();
    let (stages, batches) = finish_line.timeline.figures();
    Ok(SagaFigures {
        orders,
        elapsed,
        confirmed,
        latencies,
        stages,
        batches,
    })
}

/// The name of the placement stage (the order's write through the store, as the API does it).
const PLACEMENT: &str = "place-order";

/// What ran when during a run: each function call (for a saga step, with its order) and each
/// order's placement, timed by the benchmark around the call.
#[derive(Default)]
struct Timeline {
    spans: Mutex<Vec<Span>>,
}

struct Span {
    function: String,
    order: Option<String>,
    started: Instant,
    ended: Instant,
    messages: usize,
}

impl Timeline {
    fn record(&self, function: &str, order: Option<String>, started: Instant, messages: usize) {
        let span = Span {
            function: function.to_owned(),
            order,
            started,
            ended: Instant::now(),
            messages,
        };
        if let Ok(mut spans) = self.spans.lock() {
            spans.push(span);
        }
    }

    /// Each order's spans in time order give its stages: a span is its function's stage and
    /// the gap before it the hand-off to that function. Stages are listed by when they start
    /// on average, so they read as the saga runs.
    fn figures(&self) -> (Vec<Stage>, Vec<BatchFigures>) {
        let spans = std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()));
        let mut by_order: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
        let mut batches: BTreeMap<&str, BatchFigures> = BTreeMap::new();
        for span in &spans {
            match &span.order {
                Some(order) => by_order.entry(order).or_default().push(span),
                None => {
                    let figures = batches
                        .entry(&span.function)
                        .or_insert_with(|| BatchFigures {
                            function: span.function.clone(),
                            batches: 0,
                            messages: 0,
                            busy: Duration::ZERO,
                        });
                    figures.batches += 1;
                    figures.messages += span.messages;
                    figures.busy += span.ended - span.started;
                }
            }
        }
        // Stage name -> (durations, offsets of its start from the order's placement).
        let mut stages: BTreeMap<String, (Vec<Duration>, Vec<Duration>)> = BTreeMap::new();
        for spans in by_order.values_mut() {
            spans.sort_by_key(|span| span.started);
            let origin = spans[0].started;
            let mut previous_end: Option<Instant> = None;
            for span in spans.iter() {
                if let Some(end) = previous_end {
                    let hand_off = stages
                        .entry(format!("hand-off to `{}`", span.function))
                        .or_default();
                    hand_off.0.push(span.started.saturating_duration_since(end));
                    hand_off.1.push(end - origin);
                }
                let stage = stages.entry(format!("`{}`", span.function)).or_default();
                stage.0.push(span.ended - span.started);
                stage.1.push(span.started - origin);
                previous_end = Some(span.ended);
            }
        }
        let mut stages: Vec<(Duration, Stage)> = stages
            .into_iter()
            .map(|(name, (mut durations, offsets))| {
                durations.sort();
                (mean(&offsets), Stage { name, durations })
            })
            .collect();
        stages.sort_by_key(|(offset, _)| *offset);
        (
            stages.into_iter().map(|(_, stage)| stage).collect(),
            batches.into_values().collect(),
        )
    }
}

/// The platform's functions, counting the sagas that reached their final step and timing
/// every call.
struct FinishLine {
    functions: Arc<dyn FunctionHost>,
    finished: AtomicUsize,
    changed: Notify,
    timeline: Timeline,
}

impl FinishLine {
    fn new(functions: Arc<dyn FunctionHost>) -> Self {
        Self {
            functions,
            finished: AtomicUsize::new(0),
            changed: Notify::new(),
            timeline: Timeline::default(),
        }
    }

    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// Returns once `count` sagas have finished.
    async fn reached(&self, count: usize) {
        loop {
            let changed = self.changed.notified();
            if self.finished() >= count {
                return;
            }
            changed.await;
        }
    }
}

#[async_trait::async_trait]
impl FunctionHost for FinishLine {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, FunctionError> {
        let order = payload
            .get("order_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let started = Instant::now();
        let result = self.functions.invoke(function, payload).await;
        self.timeline.record(function, order, started, 1);
        let is_final = [Step::ConfirmOrder, Step::MarkOrderFailed]
            .iter()
            .any(|step| step.function_name() == function);
        if is_final && result.is_ok() {
            self.finished.fetch_add(1, Ordering::SeqCst);
            self.changed.notify_waiters();
        }
        result
    }

    async fn process_batch(
        &self,
        function: &str,
        batch: &[QueueMessage],
    ) -> Result<Vec<String>, FunctionError> {
        let started = Instant::now();
        let result = self.functions.process_batch(function, batch).await;
        self.timeline.record(function, None, started, batch.len());
        result
    }
}

struct ColdStart {
    function: &'static str,
    initialised: Vec<Duration>,
    answered: Vec<Duration>,
}

/// The function whose cold start is timed: the saga's first step.
const COLD_START_FUNCTION: &str = "validate-order";

/// Starts the validate-order binary `runs` times as Lambda would and times it to the end of its
/// initialisation (its first poll) and to its first answered invocation. The invocation names
/// no order, so it is answered (with `InvalidOrder`) without calling AWS: the figure is the
/// binary's own start, not a database round trip.
async fn cold_starts(binary: &Path, runs: u32) -> Result<ColdStart> {
    let function = COLD_START_FUNCTION;
    let mut initialised = Vec::new();
    let mut answered = Vec::new();
    for _ in 0..runs {
        let api = RuntimeApi::start().await?;
        let process = FunctionProcess::spawn(
            &api,
            binary,
            function,
            [
                ("TABLE_NAME", "bench"),
                ("AWS_ACCESS_KEY_ID", "bench"),
                ("AWS_SECRET_ACCESS_KEY", "bench"),
            ],
        )?;
        let outcome = api.invoke(json!({}), None, Duration::from_secs(10)).await?;
        let done = Instant::now();
        if !matches!(&outcome, Outcome::Error { error_type, .. } if error_type == "InvalidOrder") {
            bail!("{function} answered {outcome:?} to an input naming no order");
        }
        let first_poll = api.first_poll().context("the function never polled")?;
        initialised.push(first_poll - process.spawned_at());
        answered.push(done - process.spawned_at());
    }
    initialised.sort();
    answered.sort();
    Ok(ColdStart {
        function,
        initialised,
        answered,
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// `runs` sorted by rate, at least one.
fn section(runs: &[SagaFigures], zips_dir: &Path, cold: &ColdStart, provenance: &str) -> String {
    let sagas = &runs[runs.len() / 2];
    use std::fmt::Write;
    let mut out = String::from("## Saga\n\n");
    let _ = writeln!(
        out,
        "`cargo xtask bench saga` ({provenance}, {} cores, {}); the machine's hello-world ceiling \
         of the same day is in \"API\".\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::env::consts::ARCH
    );
    let _ = writeln!(out, "| Figure | Value |\n|---|---|");
    let _ = writeln!(
        out,
        "| Sagas, local runtime (SQLite, every processor), {} orders at once, median of {} runs | **{:.0} completed/s** ({} confirmed) in {:.2} s; runs from {:.0} to {:.0}/s; target >= 5,000/s |",
        sagas.orders,
        runs.len(),
        sagas.rate(),
        sagas.confirmed,
        sagas.elapsed.as_secs_f64(),
        runs[0].rate(),
        runs[runs.len() - 1].rate()
    );
    let _ = writeln!(
        out,
        "| Order to final state, median run | p50 {}, p99 **{}**; target p99 < 500 ms |",
        ms(percentile(&sagas.latencies, 50.0)),
        ms(percentile(&sagas.latencies, 99.0))
    );
    let _ = writeln!(
        out,
        "| `{}` cold start, {} runs: spawn to first poll | median {}, max {} |",
        cold.function,
        cold.initialised.len(),
        ms(percentile(&cold.initialised, 50.0)),
        ms(percentile(&cold.initialised, 100.0))
    );
    let _ = writeln!(
        out,
        "| `{}` cold start: spawn to first answered event | median **{}**, max {}; target < 2 ms |",
        cold.function,
        ms(percentile(&cold.answered, 50.0)),
        ms(percentile(&cold.answered, 100.0))
    );
    for function in deployed_functions() {
        let zip = zips_dir.join(function.name).join("bootstrap.zip");
        let size = std::fs::metadata(&zip).map_or_else(
            |_| "not built".to_owned(),
            |m| format!("{:.2} MB", m.len() as f64 / 1_000_000.0),
        );
        let _ = writeln!(
            out,
            "| Lambda zip `{}` ({}) | {size}; target < 1.5 MB |",
            function.name,
            ArchitectureArg::host().oci_name()
        );
    }
    stage_tables(&mut out, sagas);
    out
}

/// Where the median run's time went: each order's stages, and the processors' batches that ran
/// beside the sagas on the same cores.
fn stage_tables(out: &mut String, sagas: &SagaFigures) {
    let total: Duration = sagas.stages.iter().map(Stage::mean).sum();
    let _ = writeln!(
        out,
        "\nWhere the median run's orders spent their time, from the placement's call to the end \
         of their final step, timed around each call (a hand-off is the runtime's work between \
         two functions: the outbox drain and the execution's start before the first step, the \
         execution's recorded transition before the others). The means add up to {} per order.\n",
        ms(total)
    );
    let _ = writeln!(out, "| stage | mean | p50 | p99 |\n|---|---|---|---|");
    for stage in &sagas.stages {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            stage.name,
            ms(stage.mean()),
            ms(percentile(&stage.durations, 50.0)),
            ms(percentile(&stage.durations, 99.0))
        );
    }
    let _ = writeln!(
        out,
        "\nThe processors the confirmed orders' events reach, in the same run until its last saga finished (a batch's time is \
         summed over batches that overlap):\n\n| function | batches | messages | mean per batch |\n|---|---|---|---|"
    );
    for figures in &sagas.batches {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            figures.function,
            figures.batches,
            figures.messages,
            ms(figures.busy / u32::try_from(figures.batches.max(1)).unwrap_or(1))
        );
    }
}
