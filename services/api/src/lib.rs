//! The EventForge REST API: axum handlers over the domain in `eventforge_core`, bearer-token
//! authentication from `eventforge_auth`, RFC 7807 problem responses, request ids, tracing and
//! an OpenAPI document.
//!
//! The library is the whole API with its dependencies passed in ([`ApiConfig`]): the ECS binary
//! (`src/main.rs`) builds one from the environment, `cargo xtask dev` builds one around a SQLite
//! store and a development issuer, and the tests and benchmarks build one around a temporary
//! SQLite file. [`router`] gives the axum `Router`; [`serve`] runs it until a shutdown signal.
//!
//! ```no_run
//! use std::sync::Arc;
//! use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
//! use eventforge_auth::DevIssuer;
//! use eventforge_store_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SqliteStore::open(".eventforge/dev.db")?);
//! let issuer = DevIssuer::generate("http://127.0.0.1:3000".into(), "eventforge-dev".into())?;
//! let config = ApiConfig::new(
//!     store,
//!     issuer.verifier(),
//!     Arc::new(LocalReceiptLinks::new("http://127.0.0.1:3000")),
//!     b"ingest secret".to_vec(),
//! )
//! .with_dev_issuer(issuer)
//! .with_receipt_files(".eventforge/receipts");
//! let router = eventforge_api::router(AppState::new(config));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! eventforge_api::serve(listener, router, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! This crate must not hold business rules (they are `eventforge_core`'s) nor depend on a
//! storage backend: it sees the `Store` trait only. The binary is the one place that picks a
//! backend.

pub mod error;
pub mod extract;
pub mod handlers;
pub mod openapi;
pub mod otlp;
pub mod probe;
pub mod receipts;
pub mod request_log;
pub mod state;
pub mod trace;

pub use error::{ApiError, Problem};
pub use receipts::{LocalReceiptLinks, ReceiptLinks, S3ReceiptLinks};
pub use state::{ApiConfig, AppState};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::IntoResponse;
use handlers::{admin, dev, events, files, ingest, inventory, operations, orders, webhooks};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest request body accepted; larger ones are answered 413 with a problem body.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// One route the router serves, as the OpenAPI document names it (`{id}`, `{key}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: String,
}

/// Every endpoint, each declared once: the router takes its method and path from the handler's
/// `#[utoipa::path]`, as the document does. `None`: every endpoint, as the document lists them;
/// `Some(config)`: the ones `config` serves (the trace view, the development issuer, the
/// dashboard's configuration and local receipt files only when configured).
fn endpoints(config: Option<&ApiConfig>) -> OpenApiRouter<AppState> {
    let serves = |enabled: fn(&ApiConfig) -> bool| config.is_none_or(enabled);
    let mut endpoints = OpenApiRouter::new()
        .routes(routes!(operations::health))
        .routes(routes!(operations::openapi_document))
        .routes(routes!(inventory::inventory))
        .routes(routes!(orders::create_order, orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::get_receipt))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::delete_webhook))
        .routes(routes!(events::recent_events))
        .routes(routes!(admin::list_products))
        .routes(routes!(admin::put_product))
        .routes(routes!(ingest::ingest));
    if serves(|config| config.traces.is_some()) {
        endpoints = endpoints.routes(routes!(orders::get_trace));
    }
    if serves(|config| config.dev_issuer.is_some()) {
        endpoints = endpoints
            .routes(routes!(dev::jwks))
            .routes(routes!(dev::dev_token));
    }
    if serves(|config| config.dashboard_config().is_some()) {
        endpoints = endpoints.routes(routes!(dev::dashboard_config));
    }
    if serves(|config| config.receipt_files_dir.is_some()) {
        endpoints = endpoints.routes(routes!(files::receipt_file));
    }
    endpoints
}

/// Every path and operation of the API, for the document (`openapi::document`).
pub(crate) fn all_paths() -> utoipa::openapi::OpenApi {
    endpoints(None).split_for_parts().1
}

/// The routes [`router`] serves for `config`, named as in the OpenAPI document.
pub fn routes(config: &ApiConfig) -> Vec<Route> {
    let (_, document) = endpoints(Some(config)).split_for_parts();
    document
        .paths
        .paths
        .into_iter()
        .flat_map(|(path, item)| {
            [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(move |(method, _)| Route {
                method,
                path: path.clone(),
            })
        })
        .collect()
}

/// The API as an axum router: the endpoints of `state`'s configuration, the dashboard fallback,
/// problem responses for unknown routes and methods, a 64 KiB body limit, request ids
/// (`x-request-id`, kept from the client or generated, echoed on the response) and a tracing
/// span per request with its id, method and path, and one log line when it is answered
/// (`request_log`).
pub fn router(state: AppState) -> Router {
    let (router, _) = endpoints(Some(state.config())).split_for_parts();
    let cors = cors(state.config());
    let mut router = router
        .fallback(files::fallback)
        .method_not_allowed_fallback(files::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            trace::propagate,
        ))
        .with_state(state);
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router.layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            // A server-side failure's cause is logged by ApiError; this line has its status.
            .layer(axum::middleware::from_fn(request_log::log_request))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::custom(panic_response)),
    )
}

/// Lets the configured origins call the API from a browser with a bearer token; `None` when no
/// origin is configured. Origins that are not valid header values are skipped with a warning.
fn cors(config: &ApiConfig) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .inspect_err(|_| tracing::warn!(%origin, "ignoring an unusable CORS origin"))
                .ok()
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                orders::IDEMPOTENCY_KEY,
            ])
            .expose_headers([
                header::LOCATION,
                orders::IDEMPOTENT_REPLAYED,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal("a handler panicked").into_response()
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
