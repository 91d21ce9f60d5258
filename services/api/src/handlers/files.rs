//! Files from disk: local receipt PDFs, and the dashboard with its client-side routes; plus the
//! answers for requests no route takes.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::Path;
use tower::{Layer as _, ServiceExt as _};
use tower_http::compression::{Compression, CompressionLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Route prefixes that belong to the API: an unknown path at or below them is a 404 problem,
/// never the dashboard's `index.html`. One ending in `/` claims only what is below it: `/webhooks`
/// itself is the dashboard's page of the user's webhooks (reloaded or bookmarked, it must be the
/// page), while `/webhooks/ingest` and anything else under it is the server's.
pub const API_PREFIXES: [&str; 5] = ["/api", "/webhooks/", "/files", "/dev", "/.well-known"];

/// Whether `path` belongs to the API rather than to the dashboard (see [`API_PREFIXES`]).
fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        if prefix.ends_with('/') {
            path.starts_with(prefix)
        } else {
            path == *prefix || path.starts_with(&format!("{prefix}/"))
        }
    })
}

/// Prefix of the local receipt files route.
pub const RECEIPT_FILES_PREFIX: &str = "/files/receipts";

/// A receipt PDF written by the local receipt processor.
#[utoipa::path(
    get,
    path = "/files/receipts/{key}",
    tag = "development",
    params(("key" = String, Path, description = "The receipt's storage key")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such receipt", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receipt_file(State(state): State<AppState>, request: Request) -> Response {
    let Some(dir) = state.config().receipt_files_dir.clone() else {
        return ApiError::NotFound("this server serves no receipt files".to_owned())
            .into_response();
    };
    let path = request.uri().path();
    let rest = path.strip_prefix(RECEIPT_FILES_PREFIX).unwrap_or(path);
    let Ok(uri) = rest.parse::<Uri>() else {
        return ApiError::Malformed("invalid receipt path".to_owned()).into_response();
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let response = match ServeDir::new(dir)
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        return ApiError::NotFound("no such receipt".to_owned()).into_response();
    }
    response
}

/// Everything no route matched: the dashboard (with `index.html` for client-side routes) for
/// GET and HEAD outside the API's prefixes when a dashboard is configured, else a 404 problem.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let is_api = is_api_path(&path);
    let readable = method == Method::GET || method == Method::HEAD;
    if let (Some(dir), false, true) = (&state.config().dashboard_dir, is_api, readable) {
        let response = match dashboard(dir).oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        };
        if response.status() != StatusCode::NOT_FOUND {
            return response;
        }
    }
    ApiError::NotFound(format!("no route for {method} {path}")).into_response()
}

/// The dashboard's files, gzipped for a client that accepts it: the scripts are a third of their
/// size compressed, which is most of a first visit's wait (CloudFront compresses them on AWS).
fn dashboard(dir: &Path) -> Compression<ServeDir<ServeFile>> {
    CompressionLayer::new()
        .gzip(true)
        .layer(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
}

/// A known path asked for with a method it does not have.
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not supported on {}",
        request.method(),
        request.uri().path()
    ))
}
