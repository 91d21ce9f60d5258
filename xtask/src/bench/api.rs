//! `cargo xtask bench api`: authenticated `POST /api/orders` and `GET /api/orders/{id}` against
//! the shipped `eventforge-api` binary (built as the image gets it: profile `api`, static, stripped)
//! running as its own process on the SQLite store, and an axum hello-world in the same run on
//! the same machine as the ceiling. The load comes from `wrk` (see `load`), which shares the
//! machine's cores with the server, as it does for the ceiling, so the ratio between the two is
//! the figure to watch. `GET /health`, the same middleware with no token and no store, is run
//! beside them as the floor an `/api` request could reach. The server's resident memory is read
//! from `/proc` when it has started and after the load.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_auth::DevIssuer;
use eventforge_core::Store;
use eventforge_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use tokio::net::TcpListener;

use super::load::{self, Figures, Load, Request};
use crate::artefacts::{self, BuildProfile};
use crate::dev::{DEV_CLIENT_ID, DEV_ISSUER, demo_catalogue};
use crate::synth::ArchitectureArg;

#[derive(Args)]
pub struct ApiBenchArgs {
    /// Concurrent connections, each sending its next request when the previous one answered;
    /// every scenario runs once per count.
    #[arg(long, num_args = 1.., default_values_t = [8u16, 32], value_parser = clap::value_parser!(u16).range(1..))]
    pub connections: Vec<u16>,
    /// Measured seconds per scenario (after a one-second warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Replace the `## API` section of BENCHMARKS.md with the figures.
    #[arg(long, conflicts_with = "binary")]
    pub record: bool,
    /// Run this eventforge-api build instead of building the shipped one: a build with symbols,
    /// to profile the server under the load with `perf record -p <pid>`. Its figures are not
    /// the shipped binary's, so they cannot be recorded.
    #[arg(long, value_name = "PATH")]
    pub binary: Option<std::path::PathBuf>,
}

/// A product with stock no run can exhaust (orders are only placed here, not reserved).
const SKU: &str = "KEYBOARD-01";
/// How long the shipped server may take to answer its health check.
const STARTUP: Duration = Duration::from_secs(10);

/// One measured scenario.
struct Row {
    connections: u16,
    name: &'static str,
    figures: Figures,
}

/// The server's resident memory, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    idle: u64,
    after_load: u64,
    peak: u64,
}

pub async fn run(args: &ApiBenchArgs) -> Result<String> {
    let binary = match &args.binary {
        Some(binary) if binary.is_file() => binary.clone(),
        Some(binary) => bail!(
            "--binary {} is not a file: build one with `cargo build --release -p eventforge-api`",
            binary.display()
        ),
        None => {
            println!("building the shipped eventforge-api (profile api: fat LTO, static) ...");
            tokio::task::spawn_blocking(|| {
                artefacts::build_api_binary(ArchitectureArg::host(), BuildProfile::Ship)
            })
            .await
            .context("the build task failed")??
        }
    };
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database = scratch.path().join("bench.db");
    {
        let store = SqliteStore::open(&database)?;
        for item in demo_catalogue() {
            store.put_inventory(&item).await?;
        }
    }
    let issuer = DevIssuer::generate(DEV_ISSUER.to_owned(), DEV_CLIENT_ID.to_owned())?;
    let token = issuer.mint_access_token("bench", Duration::from_secs(3600))?;
    // The binary fetches its signing keys over HTTP, as it fetches Cognito's.
    let keys = serde_json::to_value(issuer.jwks())?;
    let jwks = spawn(axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || async move { axum::Json(keys) }),
    ))
    .await?;
    let hello =
        spawn(axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" })))
            .await?;
    let mut server = ShippedApi::start(&binary, scratch.path(), &database, jwks)?;
    println!("eventforge-api is pid {}", server.child.id());
    let result = measure(args, &server, &token, hello).await;
    server.stop();
    let (rows, memory) = result?;
    Ok(report(args, &rows, memory, &binary, &super::provenance()?))
}

async fn measure(
    args: &ApiBenchArgs,
    server: &ShippedApi,
    token: &str,
    hello: SocketAddr,
) -> Result<(Vec<Row>, Memory)> {
    let api = server.address;
    let idle = server.resident_kib("VmRSS")?;
    let bearer = format!("Bearer {token}");
    let create = Request {
        method: "POST",
        url: format!("http://{api}/api/orders"),
        headers: vec![
            ("Authorization", bearer.clone()),
            ("Content-Type", "application/json".to_owned()),
        ],
        body: Some(format!(r#"{{"items":[{{"sku":"{SKU}","quantity":1}}]}}"#)),
    };
    let created = answer(&create, StatusCode::CREATED).await?;
    let order_id = created["id"]
        .as_str()
        .context("the created order has no id")?;
    let read = Request {
        method: "GET",
        url: format!("http://{api}/api/orders/{order_id}"),
        headers: vec![("Authorization", bearer)],
        body: None,
    };
    answer(&read, StatusCode::OK).await?;
    let ceiling = Request {
        method: "GET",
        url: format!("http://{hello}/"),
        headers: Vec::new(),
        body: None,
    };
    let health = Request {
        method: "GET",
        url: format!("http://{api}/health"),
        headers: Vec::new(),
        body: None,
    };
    answer(&health, StatusCode::OK).await?;
    let mut rows = Vec::new();
    for &connections in &args.connections {
        let load = Load {
            connections: usize::from(connections),
            warm_up: Duration::from_secs(1),
            measure: Duration::from_secs(args.seconds),
        };
        for (name, request) in [
            ("axum hello-world (ceiling)", &ceiling),
            ("POST /api/orders", &create),
            ("GET /api/orders/{id}", &read),
            ("GET /health (the middleware alone)", &health),
        ] {
            println!("{name}, {connections} connections ...");
            let request = request.clone();
            let figures = tokio::task::spawn_blocking(move || load::run(load, &request))
                .await
                .context("the load task failed")??;
            rows.push(Row {
                connections,
                name,
                figures,
            });
        }
    }
    let memory = Memory {
        idle,
        after_load: server.resident_kib("VmRSS")?,
        peak: server.resident_kib("VmHWM")?,
    };
    Ok((rows, memory))
}

/// The shipped binary, started by the benchmark and stopped (by its pid) when it is done.
struct ShippedApi {
    child: Child,
    address: SocketAddr,
}

impl ShippedApi {
    /// Starts `binary` on the SQLite store with the settings the task definition gives it (JSON
    /// logs), except for what needs AWS: keys from the local JWKS, receipts in a directory, no
    /// OTLP collector. Waits for its health check.
    fn start(binary: &Path, scratch: &Path, database: &Path, jwks: SocketAddr) -> Result<Self> {
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .env_clear()
            .env("EVENTFORGE_STORE", "sqlite")
            .env("EVENTFORGE_SQLITE_PATH", database)
            .env("EVENTFORGE_ISSUER", DEV_ISSUER)
            .env("EVENTFORGE_CLIENT_ID", DEV_CLIENT_ID)
            .env(
                "EVENTFORGE_JWKS_URL",
                format!("http://{jwks}/.well-known/jwks.json"),
            )
            .env("EVENTFORGE_RECEIPTS_DIR", scratch.join("receipts"))
            .env("EVENTFORGE_INGEST_SECRET", "bench-ingest-secret")
            .env("EVENTFORGE_LOG_FORMAT", "json")
            .env("PORT", port.to_string())
            // The request log goes where a container's stdout goes: away from the benchmark.
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        let started = Instant::now();
        while TcpStream::connect_timeout(&server.address, Duration::from_millis(100)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("{} exited ({status}) before listening", binary.display());
            }
            if started.elapsed() > STARTUP {
                server.stop();
                bail!(
                    "{} did not listen on {} within {STARTUP:?}",
                    binary.display(),
                    server.address
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// A memory figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
    fn resident_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("cannot read the server's memory figures (Linux's /proc)")?;
        status
            .lines()
            .find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches("kB").trim().parse().ok()
            })
            .with_context(|| format!("no {field} in /proc/{}/status", self.child.id()))
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` once and checks its status, so a scenario that could only fail is refused
/// with the server's own explanation before any load. Returns the JSON body (or `null`).
async fn answer(request: &Request, expected: StatusCode) -> Result<serde_json::Value> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
    let mut builder = reqwest::Client::new().request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let response = builder.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if status != expected {
        bail!(
            "{} {} answered {status}, not {expected}: {body}",
            request.method,
            request.url
        );
    }
    Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

async fn spawn(router: axum::Router) -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(address)
}

fn report(
    args: &ApiBenchArgs,
    rows: &[Row],
    memory: Memory,
    binary: &Path,
    provenance: &str,
) -> String {
    let table: String = rows
        .iter()
        .map(|row| {
            let ceiling = rows
                .iter()
                .find(|other| other.connections == row.connections)
                .map_or(f64::NAN, |ceiling| ceiling.figures.requests_per_second);
            format!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0}% |\n",
                row.connections,
                row.name,
                row.figures.requests_per_second,
                millis(row.figures.p50),
                millis(row.figures.p99),
                millis(row.figures.max),
                100.0 * row.figures.requests_per_second / ceiling,
            )
        })
        .collect();
    let size = std::fs::metadata(binary).map_or(0, |metadata| metadata.len());
    let compressed = gzipped_size(binary);
    let build = match &args.binary {
        None => "profile `api` (fat LTO), static, stripped: the image's binary".to_owned(),
        Some(path) => format!("not the shipped build: {}", path.display()),
    };
    format!(
        "## API\n\n\
         `cargo xtask bench api` ({provenance}, 2 cores): `eventforge-api` ({:.1} MB, {build}; \
         {:.2} MB gzipped at the deployer's level, which is the image's one layer: target under \
         8 MB) as \
         its own process, on the SQLite store in WAL mode (the file kept to the process), JSON request logs to a discarded \
         stdout, no OTLP collector. {seconds} s per scenario after a 1 s warm-up; the load comes \
         from `wrk` (one thread) in another process on the same 2 cores, and the ceiling is an \
         axum hello-world in the benchmark's process. Every `/api` request carries an RS256 \
         bearer token that is verified. `GET /health` runs the same middleware (request id, \
         trace context, the request's log line) with no token, no store and no JSON body: the \
         most an `/api` request could reach on this stack.\n\n\
         | connections | scenario | req/s | p50 ms | p99 ms | max ms | of ceiling |\n\
         |---|---|---|---|---|---|---|\n\
         {table}\n\
         Resident memory of the server: {:.1} MB idle after start-up, {:.1} MB after the load \
         (peak {:.1} MB).\n",
        size as f64 / 1_000_000.0,
        compressed as f64 / 1_000_000.0,
        memory.idle as f64 / 1024.0,
        memory.after_load as f64 / 1024.0,
        memory.peak as f64 / 1024.0,
        seconds = args.seconds,
    )
}

/// The size of `binary` gzipped at the best level, as the deployer compresses the image's layer
/// (`eventforge_deployer::image`; the layer's tar headers add under a kilobyte); 0 when it
/// cannot be read.
fn gzipped_size(binary: &Path) -> u64 {
    let Ok(bytes) = std::fs::read(binary) else {
        return 0;
    };
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    match std::io::Write::write_all(&mut gzip, &bytes).and_then(|()| gzip.finish()) {
        Ok(compressed) => compressed.len() as u64,
        Err(_) => 0,
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
