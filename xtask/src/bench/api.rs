//! `cargo xtask bench api`: authenticated `POST /api/orders` and `GET /api/orders/{id}` against
//! the real router on the SQLite default, and an axum hello-world in the same run on the same
//! machine as the ceiling. Server and load generator share the machine's cores, as they do for
//! the ceiling, so the ratio between the two is the figure to watch.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
use eventforge_auth::DevIssuer;
use eventforge_core::Store;
use eventforge_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use tokio::net::TcpListener;

use super::load::{self, Figures, Load};
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

    println!("hello-world ceiling ...");
    let ceiling = load::run(load, StatusCode::OK, move |client, _| {
        client.get(format!("http://{hello}/"))
    })
    .await?;

    println!("POST /api/orders ...");
    let bearer = format!("Bearer {token}");
    let post_bearer = bearer.clone();
    let body = format!(r#"{{"items":[{{"sku":"{SKU}","quantity":1}}]}}"#);
    let create = load::run(load, StatusCode::CREATED, move |client, _| {
        client
            .post(format!("http://{api}/api/orders"))
            .header("authorization", &post_bearer)
            .header("content-type", "application/json")
            .body(body.clone())
    })
    .await?;

    println!("GET /api/orders/{{id}} ...");
    let order_id = reqwest::Client::new()
        .post(format!("http://{api}/api/orders"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"items": [{"sku": SKU, "quantity": 1}]}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?["id"]
        .as_str()
        .context("the created order has no id")?
        .to_owned();
    let read = load::run(load, StatusCode::OK, move |client, _| {
        client
            .get(format!("http://{api}/api/orders/{order_id}"))
            .header("authorization", &bearer)
    })
    .await?;

    Ok(report(args, &ceiling, &create, &read))
}

async fn spawn(router: axum::Router) -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(address)
}

fn report(args: &ApiBenchArgs, ceiling: &Figures, create: &Figures, read: &Figures) -> String {
    let row = |name: &str, figures: &Figures| {
        format!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0}% |\n",
            figures.requests_per_second(),
            millis(figures.p50),
            millis(figures.p99),
            millis(figures.max),
            100.0 * figures.requests_per_second() / ceiling.requests_per_second(),
        )
    };
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "## API\n\n\
         `cargo xtask bench api` ({profile} build, {connections} keep-alive connections, \
         {seconds} s per scenario after a 1 s warm-up; server and load generator in one process \
         on the project's 2-core machine, so both share the cores). Every `/api` request carries \
         an RS256 bearer token that is verified; orders go to a SQLite file in WAL mode. \
         Targets for POST: at least 5,000 req/s and p99 under 5 ms.\n\n\
         | Scenario | req/s | p50 ms | p99 ms | max ms | of ceiling |\n\
         |---|---|---|---|---|---|\n\
         {}{}{}",
        row("axum hello-world (ceiling)", ceiling),
        row("POST /api/orders", create),
        row("GET /api/orders/{id}", read),
        connections = args.connections,
        seconds = args.seconds,
    )
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
