//! `cargo xtask dev`: the whole platform on this machine, on one SQLite file, with no AWS account
//! and nothing else to install. The API (and the built dashboard, same origin) listens on
//! 127.0.0.1 only; a development issuer stands in for Cognito.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
use eventforge_application::local::LocalPlatform;
use eventforge_auth::DevIssuer;
use eventforge_core::inventory::InventoryItem;
use eventforge_core::trace::SpanStore;
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Store, SystemClock};
use eventforge_local::Runtime;
use eventforge_store_sqlite::SqliteStore;
use eventforge_traces::{AlarmWatch, SqliteSpans, TracingHost};
use tokio::net::TcpListener;

use crate::frontend::Frontend;
use crate::process;

/// The `client_id` of development tokens (what Cognito's app client id is on AWS).
pub const DEV_CLIENT_ID: &str = "eventforge-dev";
/// The `iss` of development tokens; fixed, so tokens survive a change of port.
pub const DEV_ISSUER: &str = "https://eventforge.local/dev-issuer";

#[derive(Args)]
pub struct DevArgs {
    /// Port to listen on. The server binds 127.0.0.1 only.
    #[arg(long, default_value_t = 3000, env = "EVENTFORGE_PORT")]
    pub port: u16,
    /// The SQLite database file. The development signing key, the ingest secret, emails
    /// (outbox/) and receipts (receipts/) are kept in the same directory.
    #[arg(long, value_name = "FILE", default_value = ".eventforge/dev.db")]
    pub db: PathBuf,
    /// Serve the API only: neither build nor serve the dashboard.
    #[arg(long)]
    pub no_frontend: bool,
    /// Let webhooks be registered for (and delivered to) loopback addresses such as
    /// http://127.0.0.1:9000, for local receivers and tests. Off by default: like production,
    /// only public https URLs are accepted.
    #[arg(long)]
    pub allow_loopback_webhooks: bool,
    /// How log lines are written: `json` (one object a line with the request, order and trace
    /// ids, as on AWS) or `text` for reading in a terminal. Default: text on a terminal, JSON
    /// otherwise (piped to a file or a log collector).
    #[arg(long, value_enum, env = "EVENTFORGE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// `chosen`, else text when standard error (where logs go) is a terminal.
    fn resolve(chosen: Option<Self>) -> Self {
        use std::io::IsTerminal;
        chosen.unwrap_or_else(|| {
            if std::io::stderr().is_terminal() {
                Self::Text
            } else {
                Self::Json
            }
        })
    }
}

/// What a fresh development database is stocked with, so the dashboard has something to order.
pub fn demo_catalogue() -> Vec<InventoryItem> {
    let item = |sku: &str, name: &str, unit_price_minor, stock| InventoryItem {
        sku: sku.parse().expect("catalogue SKUs are well formed"),
        name: name.to_owned(),
        unit_price_minor,
        currency: "USD".parse().expect("USD is a currency"),
        stock,
    };
    vec![
        item("KEYBOARD-01", "Mechanical keyboard", 12_900, 50),
        item("MOUSE-01", "Wireless mouse", 4_900, 100),
        item("MONITOR-27", "27-inch monitor", 32_900, 20),
        item("HEADSET-01", "Noise-cancelling headset", 19_900, 30),
        item("CABLE-USBC", "USB-C cable", 1_500, 500),
        item("DOCK-01", "Thunderbolt dock", 24_900, 10),
    ]
}

/// Puts the demo catalogue into an empty inventory; an inventory with items is left alone.
pub async fn seed_if_empty(store: &dyn Store) -> Result<usize> {
    if !store.list_inventory().await?.is_empty() {
        return Ok(0);
    }
    let catalogue = demo_catalogue();
    for item in &catalogue {
        store.put_inventory(item).await?;
    }
    Ok(catalogue.len())
}

pub fn run(args: DevArgs) -> Result<()> {
    init_logging(LogFormat::resolve(args.log_format));
    let root = process::workspace_root();
    let dashboard = if args.no_frontend {
        None
    } else {
        prepare_dashboard(&Frontend::new(root.join("frontend")))?
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args, dashboard))
}

fn init_logging(format: LogFormat) {
    // JSON as the ECS task writes it, or text; to stderr.
    eventforge_api::request_log::init_logs(format == LogFormat::Json, std::io::stderr);
}

/// Builds the dashboard when its sources changed since the last build. Without Node.js the API
/// still runs; the message says how to get the dashboard too.
fn prepare_dashboard(frontend: &Frontend) -> Result<Option<PathBuf>> {
    if !frontend.exists() {
        return Ok(None);
    }
    if frontend.is_stale()
        && let Err(error) = frontend.build()
    {
        tracing::warn!(
            "the dashboard could not be built ({error:#}); serving the API only. \
             Install Node.js 20+ and npm, or pass --no-frontend to skip this step"
        );
        return Ok(None);
    }
    Ok(Some(frontend.dist()))
}

async fn serve(args: DevArgs, dashboard: Option<PathBuf>) -> Result<()> {
    let data_dir = args
        .db
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let store = SqliteStore::open(&args.db)
        .context("cannot open the database (choose another file with --db)")?;
    let store: Arc<dyn Store> = Arc::new(store);
    let seeded = seed_if_empty(store.as_ref()).await?;
    if seeded > 0 {
        tracing::info!(
            items = seeded,
            "stocked the empty inventory with the demo catalogue"
        );
    }
    let issuer = DevIssuer::load_or_generate(
        &data_dir.join("dev-issuer.pem"),
        DEV_ISSUER.to_owned(),
        DEV_CLIENT_ID.to_owned(),
    )
    .context("cannot set up the development token issuer")?;
    let ingest_secret = ingest_secret(&data_dir.join("ingest-secret"))?;
    let url_policy = if args.allow_loopback_webhooks {
        UrlPolicy::AllowLoopback
    } else {
        UrlPolicy::PublicHttpsOnly
    };

    // Spans of requests, saga steps and processor runs; the API alarms warn at their thresholds.
    let spans: Arc<dyn SpanStore> = Arc::new(AlarmWatch::new(Arc::new(
        SqliteSpans::open(data_dir.join("traces.db")).context("cannot open the trace file")?,
    )));
    let platform = LocalPlatform::in_dir(Arc::clone(&store), &data_dir, url_policy);
    let mut runtime = platform.runtime_config();
    runtime.host = Arc::new(TracingHost::new(runtime.host, spans.clone()));
    let runtime = Runtime::start(runtime)
        .await
        .context("cannot start the local runtime (saga, bus, queues)")?;

    let mut config = ApiConfig::new(
        Arc::clone(&store),
        issuer.verifier(),
        Arc::new(LocalReceiptLinks::new("")),
        ingest_secret,
    )
    .with_clock(Arc::new(SystemClock))
    .with_url_policy(url_policy)
    .with_receipt_files(&platform.receipts_dir)
    .with_dev_issuer(issuer)
    .with_span_store(spans);
    if let Some(dist) = &dashboard {
        config = config.with_dashboard(dist);
    }

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!(
            "cannot listen on {address}: is another server using it? Choose another with --port"
        )
    })?;
    print_banner(&args, &data_dir, dashboard.is_some());
    eventforge_api::serve(
        listener,
        eventforge_api::router(AppState::new(config)),
        shutdown_signal(),
    )
    .await
    .context("the API server failed")?;
    // Work in flight finishes or stays recorded; the next start resumes it.
    runtime.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The key of `/webhooks/ingest` signatures: random, made once, kept beside the database.
fn ingest_secret(path: &Path) -> Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(path, &secret)
        .with_context(|| format!("cannot write the ingest secret to {}", path.display()))?;
    Ok(secret.into_bytes())
}

fn print_banner(args: &DevArgs, data_dir: &Path, dashboard: bool) {
    let url = format!("http://127.0.0.1:{}", args.port);
    println!();
    println!("EventForge is running (Ctrl-C stops it)");
    if dashboard {
        println!("  dashboard      {url}/");
    }
    println!("  API            {url}/api   (OpenAPI: {url}/openapi.json)");
    println!("  health         {url}/health");
    println!("  data           {}", data_dir.display());
    println!(
        "  emails         {}   receipts {}",
        data_dir.join("outbox").display(),
        data_dir.join("receipts").display()
    );
    println!("  payments       simulated: totals above 5,000.00 are declined");
    println!(
        "  get a token    curl -s -X POST {url}/dev/token -H 'content-type: application/json' -d '{{\"username\":\"alice\"}}'"
    );
    println!("  use it         curl -s {url}/api/orders -H \"authorization: Bearer $TOKEN\"");
    println!(
        "  ingest secret  {} (signs POST /webhooks/ingest)",
        data_dir.join("ingest-secret").display()
    );
    println!();
}

/// Completes on Ctrl-C or SIGTERM; the server then finishes the requests in flight.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_has_unique_skus_and_stock() {
        let catalogue = demo_catalogue();
        let mut skus: Vec<_> = catalogue.iter().map(|item| item.sku.clone()).collect();
        skus.sort();
        skus.dedup();
        assert_eq!(skus.len(), catalogue.len());
        assert!(
            catalogue
                .iter()
                .all(|item| item.stock > 0 && item.unit_price_minor > 0)
        );
    }

    #[tokio::test]
    async fn seeding_fills_an_empty_inventory_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("dev.db")).expect("open");
        assert_eq!(
            seed_if_empty(&store).await.expect("seed"),
            demo_catalogue().len()
        );
        assert_eq!(
            seed_if_empty(&store).await.expect("seed again"),
            0,
            "left alone"
        );
        assert_eq!(
            store.list_inventory().await.expect("list").len(),
            demo_catalogue().len()
        );
    }

    #[test]
    fn the_ingest_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ingest-secret");
        let first = ingest_secret(&path).expect("create");
        assert_eq!(first.len(), 64, "32 random bytes, hex");
        assert_eq!(ingest_secret(&path).expect("read"), first);
    }
}
