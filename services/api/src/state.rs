//! What the API runs with: every dependency is passed in, nothing is read from the environment
//! here (the binary does that), so tests and the local runtime build the same router.

use crate::receipts::ReceiptLinks;
use eventforge_auth::{DevIssuer, JwtVerifier};
use eventforge_core::trace::{SpanSink, SpanStore};
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, Store, SystemClock};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The API's dependencies and options.
#[derive(Clone)]
pub struct ApiConfig {
    pub store: Arc<dyn Store>,
    /// Checks the bearer token of every `/api` request.
    pub verifier: JwtVerifier,
    pub clock: Arc<dyn Clock>,
    /// Which webhook destinations may be registered.
    pub url_policy: UrlPolicy,
    /// Key of the HMAC signature `/webhooks/ingest` requires.
    pub ingest_secret: Vec<u8>,
    /// Turns a stored receipt key into a URL the client can download.
    pub receipts: Arc<dyn ReceiptLinks>,
    /// A directory served at `/files/receipts/` (where the local receipt processor writes PDFs).
    pub receipt_files_dir: Option<PathBuf>,
    /// Present under `cargo xtask dev`: serves its JWKS, mints tokens at `/dev/token` and makes
    /// `/config.json` say `"mode": "dev"` unless [`ApiConfig::runtime_config`] says otherwise.
    pub dev_issuer: Option<DevIssuer>,
    /// The built dashboard, served for every GET outside the API's own paths, with
    /// `index.html` for paths that are no file (client-side routes).
    pub dashboard_dir: Option<PathBuf>,
    /// The dashboard's runtime configuration, served as `/config.json`.
    pub runtime_config: Option<serde_json::Value>,
    /// Origins (`https://d123.cloudfront.net`) whose pages may call the API from a browser.
    /// Empty: no CORS headers at all, which is right when the dashboard is served by the API
    /// itself or from the same origin.
    pub cors_allowed_origins: Vec<String>,
    /// Where each request's span goes: the ADOT collector (OTLP, then X-Ray) on AWS, the local span file under
    /// `cargo xtask dev`; `None`: spans are not kept.
    pub span_sink: Option<Arc<dyn SpanSink>>,
    /// Where order traces are read (`cargo xtask dev`). Enables `GET /api/orders/{id}/trace`.
    pub traces: Option<Arc<dyn SpanStore>>,
}

impl ApiConfig {
    /// A production configuration: system clock, public https webhooks only, no development
    /// issuer, no dashboard, no local receipt files.
    pub fn new(
        store: Arc<dyn Store>,
        verifier: JwtVerifier,
        receipts: Arc<dyn ReceiptLinks>,
        ingest_secret: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            store,
            verifier,
            clock: Arc::new(SystemClock),
            url_policy: UrlPolicy::PublicHttpsOnly,
            ingest_secret: ingest_secret.into(),
            receipts,
            receipt_files_dir: None,
            dev_issuer: None,
            dashboard_dir: None,
            runtime_config: None,
            cors_allowed_origins: Vec::new(),
            span_sink: None,
            traces: None,
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_url_policy(mut self, policy: UrlPolicy) -> Self {
        self.url_policy = policy;
        self
    }

    pub fn with_receipt_files(mut self, dir: impl Into<PathBuf>) -> Self {
        self.receipt_files_dir = Some(dir.into());
        self
    }

    pub fn with_dev_issuer(mut self, issuer: DevIssuer) -> Self {
        self.dev_issuer = Some(issuer);
        self
    }

    pub fn with_dashboard(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dashboard_dir = Some(dir.into());
        self
    }

    pub fn with_runtime_config(mut self, config: serde_json::Value) -> Self {
        self.runtime_config = Some(config);
        self
    }

    pub fn with_cors_allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_allowed_origins = origins;
        self
    }

    /// Request spans go to `spans`, and order traces are read from it.
    pub fn with_span_store(mut self, spans: Arc<dyn SpanStore>) -> Self {
        self.span_sink = Some(spans.clone());
        self.traces = Some(spans);
        self
    }

    /// Request spans go to `sink`; traces are read elsewhere (the X-Ray console).
    pub fn with_span_sink(mut self, sink: Arc<dyn SpanSink>) -> Self {
        self.span_sink = Some(sink);
        self
    }

    /// What `/config.json` serves, if anything: the configured document, else the development
    /// one when a development issuer is present.
    pub fn dashboard_config(&self) -> Option<serde_json::Value> {
        self.runtime_config.clone().or_else(|| {
            self.dev_issuer
                .as_ref()
                .map(|_| serde_json::json!({"apiBaseUrl": "", "auth": {"mode": "dev"}}))
        })
    }
}

impl fmt::Debug for ApiConfig {
    // The ingest secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("verifier", &self.verifier)
            .field("url_policy", &self.url_policy)
            .field("receipt_files_dir", &self.receipt_files_dir)
            .field("dev_issuer", &self.dev_issuer)
            .field("dashboard_dir", &self.dashboard_dir)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("keeps_spans", &self.span_sink.is_some())
            .field("serves_traces", &self.traces.is_some())
            .finish_non_exhaustive()
    }
}

/// The router's state: the configuration behind one shared pointer.
#[derive(Debug, Clone)]
pub struct AppState(Arc<ApiConfig>);

impl AppState {
    pub fn new(config: ApiConfig) -> Self {
        Self(Arc::new(config))
    }

    pub fn config(&self) -> &ApiConfig {
        &self.0
    }
}

impl From<ApiConfig> for AppState {
    fn from(config: ApiConfig) -> Self {
        Self::new(config)
    }
}
