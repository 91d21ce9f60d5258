//! `eventforge-api`: the API as a process, as ECS runs it. Reads its configuration from the
//! environment, picks the store backend, listens on `0.0.0.0:$PORT` and drains in-flight
//! requests on SIGTERM or Ctrl-C.
//!
//! Environment:
//! - `EVENTFORGE_STORE` = `dynamodb` (with `EVENTFORGE_TABLE`) or `sqlite` (with
//!   `EVENTFORGE_SQLITE_PATH`, a file the process keeps to itself while it runs)
//! - `EVENTFORGE_ISSUER`, `EVENTFORGE_CLIENT_ID`: whose access tokens are accepted;
//!   `EVENTFORGE_JWKS_URL` (default: the issuer's `/.well-known/jwks.json`)
//! - `EVENTFORGE_RECEIPTS_BUCKET` (presigned S3 links), or `EVENTFORGE_RECEIPTS_DIR` served at
//!   `/files/receipts/` with links under `EVENTFORGE_PUBLIC_URL`
//! - `EVENTFORGE_INGEST_SECRET`: the HMAC key of `/webhooks/ingest`
//! - `PORT` (8080), `RUST_LOG` (info), `EVENTFORGE_LOG_FORMAT` (`json` or text)
//! - optional `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://host:port`, the ADOT collector beside the
//!   API in its task): each request's span is exported over OTLP/HTTP, and reaches X-Ray
//! - optional `EVENTFORGE_DASHBOARD_DIR`, `EVENTFORGE_RUNTIME_CONFIG` (a JSON file served as
//!   `/config.json`), `EVENTFORGE_CORS_ORIGINS` (comma-separated origins whose pages may call
//!   the API, e.g. the dashboard's CloudFront URL)
//!
//! `EVENTFORGE_EVENT_BUS` is accepted but unused: the API never publishes directly; its events
//! reach the bus through the store's outbox.
//!
//! `eventforge-api health` asks the server running beside it (`127.0.0.1:$PORT/health`) and
//! exits 0 when it answers 200: the container's health check, as the image is `FROM scratch`
//! and has no curl or shell to ask with.

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use eventforge_api::otlp::OtlpExporter;
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks, ReceiptLinks, S3ReceiptLinks};
use eventforge_auth::{JwtVerifier, KeySource, VerifierConfig, cognito_jwks_url};
use eventforge_aws_https::TrustAnchors;
use eventforge_core::Store;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

#[derive(Debug, Clone, PartialEq, Eq)]
enum StoreSettings {
    Dynamo { table: String },
    Sqlite { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ReceiptSettings {
    Bucket(String),
    Directory { dir: PathBuf, public_url: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    store: StoreSettings,
    issuer: String,
    client_id: String,
    jwks_url: String,
    receipts: ReceiptSettings,
    ingest_secret: String,
    port: u16,
    dashboard_dir: Option<PathBuf>,
    runtime_config: Option<PathBuf>,
    cors_origins: Vec<String>,
    otlp_endpoint: Option<String>,
}

impl Settings {
    /// Reads the settings through `var` (the environment in production, a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let required =
            |name: &str, why: &str| var(name).with_context(|| format!("{name} is not set: {why}"));
        let store = match required("EVENTFORGE_STORE", "set it to `dynamodb` or `sqlite`")?.as_str()
        {
            "dynamodb" => StoreSettings::Dynamo {
                table: required(
                    "EVENTFORGE_TABLE",
                    "EVENTFORGE_STORE=dynamodb needs the table name",
                )?,
            },
            "sqlite" => StoreSettings::Sqlite {
                path: required(
                    "EVENTFORGE_SQLITE_PATH",
                    "EVENTFORGE_STORE=sqlite needs the database file",
                )?
                .into(),
            },
            other => bail!("EVENTFORGE_STORE is {other:?}; set it to `dynamodb` or `sqlite`"),
        };
        let issuer = required(
            "EVENTFORGE_ISSUER",
            "the `iss` of accepted tokens, e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>",
        )?;
        let client_id = required("EVENTFORGE_CLIENT_ID", "the user pool app client's id")?;
        let jwks_url = var("EVENTFORGE_JWKS_URL").unwrap_or_else(|| cognito_jwks_url(&issuer));
        let receipts = match (
            var("EVENTFORGE_RECEIPTS_BUCKET"),
            var("EVENTFORGE_RECEIPTS_DIR"),
        ) {
            (Some(bucket), _) => ReceiptSettings::Bucket(bucket),
            (None, Some(dir)) => ReceiptSettings::Directory {
                dir: dir.into(),
                public_url: var("EVENTFORGE_PUBLIC_URL").unwrap_or_default(),
            },
            (None, None) => bail!(
                "EVENTFORGE_RECEIPTS_BUCKET is not set: name the receipts bucket \
                 (or set EVENTFORGE_RECEIPTS_DIR to serve receipts from a local directory)"
            ),
        };
        let ingest_secret = required(
            "EVENTFORGE_INGEST_SECRET",
            "the HMAC key that signs /webhooks/ingest requests",
        )?;
        let port = port(var("PORT"))?;
        Ok(Self {
            store,
            issuer,
            client_id,
            jwks_url,
            receipts,
            ingest_secret,
            port,
            dashboard_dir: var("EVENTFORGE_DASHBOARD_DIR").map(PathBuf::from),
            runtime_config: var("EVENTFORGE_RUNTIME_CONFIG").map(PathBuf::from),
            otlp_endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|endpoint| {
                    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
                        Ok(endpoint)
                    } else {
                        Err(anyhow::anyhow!(
                            "OTEL_EXPORTER_OTLP_ENDPOINT is {endpoint:?}, not an http(s) URL like http://127.0.0.1:4318"
                        ))
                    }
                })
                .transpose()?,
            cors_origins: var("EVENTFORGE_CORS_ORIGINS")
                .map(|origins| {
                    origins
                        .split(',')
                        .map(str::trim)
                        .filter(|origin| !origin.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn init_tracing() {
    let json = std::env::var("EVENTFORGE_LOG_FORMAT").is_ok_and(|format| format == "json");
    eventforge_api::request_log::init_logs(json, std::io::stdout);
}

/// The AWS configuration (credential chain, region), loaded once, and only if a setting needs
/// it: the DynamoDB store and the receipts bucket share it. HTTPS trusts the Amazon Trust
/// Services roots compiled into the binary: the image is `FROM scratch`, with no certificate
/// store to read (see `eventforge-aws-https`).
async fn aws(loaded: &OnceCell<SdkConfig>) -> anyhow::Result<&SdkConfig> {
    loaded
        .get_or_try_init(|| async {
            let loader = eventforge_aws_https::config_loader(TrustAnchors::AmazonTrustServices)
                .context("cannot set up the HTTPS client for AWS")?;
            anyhow::Ok(loader.load().await)
        })
        .await
}

async fn open_store(
    settings: &StoreSettings,
    loaded: &OnceCell<SdkConfig>,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match settings {
        StoreSettings::Dynamo { table } => Arc::new(eventforge_store_dynamodb::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(aws(loaded).await?),
            table.clone(),
        )),
        // The server is its database's only process: no file lock per transaction.
        StoreSettings::Sqlite { path } => Arc::new(
            eventforge_store_sqlite::SqliteStore::open_with(
                path,
                eventforge_store_sqlite::Sharing::ThisProcess,
            )
            .with_context(|| {
                format!(
                    "opening the SQLite store {} (the API keeps it to itself: \
                     is another process using it?)",
                    path.display()
                )
            })?,
        ),
    })
}

async fn build_config(
    settings: &Settings,
    spans: Option<Arc<OtlpExporter>>,
) -> anyhow::Result<ApiConfig> {
    let loaded = OnceCell::new();
    let store = open_store(&settings.store, &loaded).await?;
    let verifier = JwtVerifier::new(
        VerifierConfig::new(settings.issuer.clone(), settings.client_id.clone()),
        KeySource::Url(settings.jwks_url.clone()),
    );
    let receipts: Arc<dyn ReceiptLinks> = match &settings.receipts {
        ReceiptSettings::Bucket(bucket) => Arc::new(
            S3ReceiptLinks::new(aws(&loaded).await?, bucket.clone())
                .context("addressing the receipts bucket")?,
        ),
        ReceiptSettings::Directory { public_url, .. } => {
            Arc::new(LocalReceiptLinks::new(public_url.clone()))
        }
    };
    let mut config = ApiConfig::new(store, verifier, receipts, settings.ingest_secret.as_bytes());
    if let ReceiptSettings::Directory { dir, .. } = &settings.receipts {
        config = config.with_receipt_files(dir);
    }
    config = config.with_cors_allowed_origins(settings.cors_origins.clone());
    if let Some(dir) = &settings.dashboard_dir {
        config = config.with_dashboard(dir);
    }
    if let Some(path) = &settings.runtime_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading EVENTFORGE_RUNTIME_CONFIG {}", path.display()))?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        config = config.with_runtime_config(value);
    }
    if let Some(exporter) = spans {
        config = config.with_span_sink(exporter);
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The port the API listens on unless `PORT` says otherwise (the task definition's mapping).
const DEFAULT_PORT: u16 = 8080;

/// `PORT`'s value as a port number, or [`DEFAULT_PORT`] when it is unset.
fn port(value: Option<String>) -> anyhow::Result<u16> {
    match value {
        Some(port) => port
            .parse()
            .with_context(|| format!("PORT is {port:?}, not a port number")),
        None => Ok(DEFAULT_PORT),
    }
}

/// `eventforge-api health`: whether the server on this host's `$PORT` answers `/health` with 200.
fn health_check() -> anyhow::Result<()> {
    let port = port(std::env::var("PORT").ok())?;
    Ok(eventforge_api::probe::probe_health(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        port,
    )))?)
}

/// mimalloc rather than the C library's allocator, whose arenas serialise the runtime's worker
/// threads on every request's small allocations (bodies, JSON, spans): see BENCHMARKS.md, "API".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("health") {
        return health_check();
    }
    init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A worker's request log lines wait until it goes idle (see `request_log`).
        .on_thread_park(eventforge_api::request_log::on_worker_park)
        .build()
        .context("starting the async runtime")?
        .block_on(serve())
}

/// Serves the API until SIGTERM or Ctrl-C, then lets the requests in flight finish.
async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_vars(|name| std::env::var(name).ok())?;
    if let Ok(bus) = std::env::var("EVENTFORGE_EVENT_BUS") {
        tracing::info!(%bus, "events reach the bus through the store's outbox, not from the API");
    }
    let spans = settings
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| OtlpExporter::new(endpoint, "eventforge-api").map(Arc::new))
        .transpose()?;
    let config = build_config(&settings, spans.clone()).await?;
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, settings.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, store = ?settings.store, "eventforge-api listening");
    let router = eventforge_api::router(AppState::new(config));
    eventforge_api::serve(listener, router, shutdown_signal())
        .await
        .context("serving HTTP")?;
    if let Some(spans) = spans {
        // The last requests' spans leave before the task does.
        let flushed = tokio::task::spawn_blocking(move || spans.shutdown()).await?;
        if let Err(error) = flushed {
            tracing::warn!(%error, "spans not exported");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    }

    const ECS: &[(&str, &str)] = &[
        ("EVENTFORGE_STORE", "dynamodb"),
        ("EVENTFORGE_TABLE", "eventforge"),
        (
            "EVENTFORGE_ISSUER",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
        ),
        ("EVENTFORGE_CLIENT_ID", "client"),
        ("EVENTFORGE_RECEIPTS_BUCKET", "receipts"),
        ("EVENTFORGE_INGEST_SECRET", "s3cret"),
    ];

    #[test]
    fn the_ecs_environment_configures_dynamodb_s3_and_cognito() {
        let settings = settings(ECS).expect("complete environment");
        assert_eq!(
            settings.store,
            StoreSettings::Dynamo {
                table: "eventforge".into()
            }
        );
        assert_eq!(
            settings.receipts,
            ReceiptSettings::Bucket("receipts".into())
        );
        assert_eq!(settings.port, 8080);
        assert!(settings.cors_origins.is_empty());
        assert_eq!(
            settings.jwks_url,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x/.well-known/jwks.json"
        );
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        for missing in [
            "EVENTFORGE_STORE",
            "EVENTFORGE_TABLE",
            "EVENTFORGE_ISSUER",
            "EVENTFORGE_CLIENT_ID",
            "EVENTFORGE_INGEST_SECRET",
            "EVENTFORGE_RECEIPTS_BUCKET",
        ] {
            let vars: Vec<(&str, &str)> = ECS
                .iter()
                .copied()
                .filter(|(name, _)| *name != missing)
                .collect();
            let error = settings(&vars).expect_err(missing).to_string();
            assert!(error.contains(missing), "{missing}: {error}");
        }
    }

    #[test]
    fn sqlite_needs_its_path_and_a_bad_port_or_collector_address_is_refused() {
        let mut vars: Vec<(&str, &str)> = ECS.to_vec();
        vars[0] = ("EVENTFORGE_STORE", "sqlite");
        assert!(
            settings(&vars)
                .unwrap_err()
                .to_string()
                .contains("EVENTFORGE_SQLITE_PATH")
        );
        vars.push(("EVENTFORGE_SQLITE_PATH", "/tmp/x.db"));
        vars.push(("PORT", "eighty"));
        assert!(settings(&vars).unwrap_err().to_string().contains("PORT"));
        vars.pop();
        vars.push(("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318"));
        assert!(
            settings(&vars)
                .unwrap_err()
                .to_string()
                .contains("OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        vars.pop();
        vars.push(("PORT", "9000"));
        let settings = settings(&vars).expect("sqlite settings");
        assert_eq!(settings.port, 9000);
        assert_eq!(
            settings.store,
            StoreSettings::Sqlite {
                path: "/tmp/x.db".into()
            }
        );
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let mut vars: Vec<(&str, &str)> = ECS.to_vec();
        vars.push((
            "EVENTFORGE_CORS_ORIGINS",
            "https://d1.cloudfront.net, https://app.example.com,",
        ));
        assert_eq!(
            settings(&vars).expect("settings").cors_origins,
            ["https://d1.cloudfront.net", "https://app.example.com"]
        );
    }
}
