//! `cargo xtask bench api`: authenticated `POST /api/orders` and `GET /api/orders/{id}` against
//! the real router on the SQLite default, and an axum hello-world in the same run on the same
//! machine as the ceiling. The load comes from `wrk` (see `load`), which shares the machine's
//! cores with the server, as it does for the ceiling, so the ratio between the two is the
//! figure to watch.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
use eventforge_auth::DevIssuer;
use eventforge_core::Store;
use eventforge_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use tokio::net::TcpListener;

use super::load::{self, Figures, Load, Request};
use crate::dev::{DEV_CLIENT_ID, DEV_ISSUER, demo_catalogue};

#[derive(Args)]
pub struct ApiBenchArgs {
    /// Concurrent connections, each sending its next request when the previous one answered.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub connections: u16,
    /// Measured seconds per scenario (after a one-second warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Replace the `## API` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

/// A product with stock no run can exhaust (orders are only placed here, not reserved).
const SKU: &str = "KEYBOARD-01";

pub async fn run(args: &ApiBenchArgs) -> Result<String> {
    let load = Load {
        connections: usize::from(args.connections),
        warm_up: Duration::from_secs(1),
        measure: Duration::from_secs(args.seconds),
    };
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store = SqliteStore::open(scratch.path().join("bench.db"))?;
    for item in demo_catalogue() {
        store.put_inventory(&item).await?;
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let issuer = DevIssuer::generate(DEV_ISSUER.to_owned(), DEV_CLIENT_ID.to_owned())?;
    let token = issuer.mint_access_token("bench", Duration::from_secs(3600))?;
    let config = ApiConfig::new(
        store,
        issuer.verifier(),
        Arc::new(LocalReceiptLinks::new("")),
        b"bench-ingest-secret".to_vec(),
    )
    .with_dev_issuer(issuer);
    let api = spawn(eventforge_api::router(AppState::new(config))).await?;
    let hello =
        spawn(axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" })))
            .await?;

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

    let mut figures = Vec::new();
    for (name, request) in [
        ("axum hello-world (ceiling)", ceiling),
        ("POST /api/orders", create),
        ("GET /api/orders/{id}", read),
    ] {
        println!("{name} ...");
        let measured = tokio::task::spawn_blocking(move || load::run(load, &request))
            .await
            .context("the load task failed")??;
        figures.push((name, measured));
    }
    Ok(report(args, &figures))
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

fn report(args: &ApiBenchArgs, figures: &[(&str, Figures)]) -> String {
    let ceiling = figures
        .first()
        .map_or(f64::NAN, |(_, ceiling)| ceiling.requests_per_second);
    let rows: String = figures
        .iter()
        .map(|(name, figures)| {
            format!(
                "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0}% |\n",
                figures.requests_per_second,
                millis(figures.p50),
                millis(figures.p99),
                millis(figures.max),
                100.0 * figures.requests_per_second / ceiling,
            )
        })
        .collect();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "## API\n\n\
         `cargo xtask bench api` ({profile} build, {connections} keep-alive connections, \
         {seconds} s per scenario after a 1 s warm-up). The server runs in the benchmark's \
         process on the project's 2-core machine; the load comes from `wrk` (one thread) in \
         another process on the same cores. Every `/api` request carries an RS256 bearer token \
         that is verified; orders go to a SQLite file in WAL mode. Targets for POST: at least \
         5,000 req/s and p99 under 5 ms.\n\n\
         | Scenario | req/s | p50 ms | p99 ms | max ms | of ceiling |\n\
         |---|---|---|---|---|---|\n\
         {rows}",
        connections = args.connections,
        seconds = args.seconds,
    )
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
