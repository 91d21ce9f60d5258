//! The test harness: an API over a fresh SQLite store, a fixed clock and a development issuer.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
use eventforge_auth::DevIssuer;
use eventforge_core::clock::ManualClock;
use eventforge_core::webhook::UrlPolicy;
use eventforge_core::{Clock, InventoryItem, Store};
use eventforge_store_sqlite::SqliteStore;
use eventforge_traces::SqliteSpans;
use http_body_util::BodyExt as _;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tempfile::TempDir;
use tower::ServiceExt as _;

pub const ISSUER: &str = "http://127.0.0.1:3000/dev";
pub const CLIENT_ID: &str = "eventforge-dev";
pub const INGEST_SECRET: &[u8] = b"ingest-secret-for-tests";
pub const HOUR: Duration = Duration::from_secs(3600);

/// Key generation is slow, so the test binary makes its keys once.
pub fn issuer() -> &'static DevIssuer {
    static ISSUER_KEY: OnceLock<DevIssuer> = OnceLock::new();
    ISSUER_KEY.get_or_init(|| {
        DevIssuer::generate(ISSUER.to_owned(), CLIENT_ID.to_owned()).expect("key generation")
    })
}

/// Same issuer name and client, another key: what a forger with their own key would have.
pub fn stranger() -> &'static DevIssuer {
    static STRANGER_KEY: OnceLock<DevIssuer> = OnceLock::new();
    STRANGER_KEY.get_or_init(|| {
        DevIssuer::generate(ISSUER.to_owned(), CLIENT_ID.to_owned()).expect("key generation")
    })
}

pub fn token(username: &str) -> String {
    issuer().mint_access_token(username, HOUR).expect("mint")
}

/// A token signed by the issuer with one claim replaced.
pub fn token_with(claim: &str, value: Value) -> String {
    let mut claims = issuer().access_token_claims("alice", HOUR).expect("claims");
    claims[claim] = value;
    issuer().sign_claims(&claims).expect("signing")
}

pub fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

pub struct TestApp {
    pub router: Router,
    /// What [`eventforge_api::routes`] says this router serves.
    pub routes: Vec<eventforge_api::Route>,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub json: Value,
}

impl Reply {
    /// Asserts an RFC 7807 problem with `status` and returns its document.
    #[track_caller]
    pub fn problem(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.json);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "a problem document"
        );
        assert_eq!(self.json["status"], status.as_u16());
        assert!(
            self.json["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://eventforge.dev/problems/")),
            "{}",
            self.json
        );
        assert!(self.json["title"].is_string() && self.json["detail"].is_string());
        &self.json
    }

    /// The fields a 422 problem names.
    #[track_caller]
    pub fn invalid_fields(&self) -> Vec<String> {
        self.problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"]
            .as_array()
            .expect("errors[]")
            .iter()
            .map(|error| {
                assert!(error["message"].is_string());
                error["field"].as_str().expect("field").to_owned()
            })
            .collect()
    }
}

pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub fn product(sku: &str, price: u64, currency: &str, stock: u32) -> InventoryItem {
    InventoryItem {
        sku: sku.parse().expect("sku"),
        name: format!("Product {sku}"),
        unit_price_minor: price,
        currency: currency.parse().expect("currency"),
        stock,
    }
}

impl TestApp {
    /// The API with production settings, serving local receipt files.
    pub async fn new() -> Self {
        Self::configured(|config, _| config).await
    }

    /// The API with production settings (no development issuer, public https webhooks only)
    /// and local receipt files, then `configure` applied.
    pub async fn configured(configure: impl FnOnce(ApiConfig, &Path) -> ApiConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("api.db")).expect("open store"));
        for item in [
            product("KEYBOARD-01", 4999, "USD", 10),
            product("MOUSE-01", 1999, "USD", 10),
            product("TEA-01", 500, "GBP", 10),
        ] {
            store.put_inventory(&item).await.expect("seed inventory");
        }
        let clock = Arc::new(ManualClock::new(now()));
        let receipts_dir = dir.path().join("receipts");
        std::fs::create_dir_all(&receipts_dir).expect("receipts dir");
        let config = ApiConfig::new(
            store.clone(),
            issuer().verifier(),
            Arc::new(LocalReceiptLinks::new("http://127.0.0.1:3000")),
            INGEST_SECRET,
        )
        .with_clock(clock.clone() as Arc<dyn Clock>)
        .with_receipt_files(&receipts_dir);
        let config = configure(config, dir.path());
        let routes = eventforge_api::routes(&config);
        let router = eventforge_api::router(AppState::new(config));
        Self {
            router,
            routes,
            store,
            clock,
            dir,
        }
    }

    /// As under `cargo xtask dev`: the development issuer's endpoints, loopback webhooks
    /// allowed, spans kept in a file beside the database.
    pub async fn dev() -> Self {
        Self::configured(|config, dir| {
            let spans = SqliteSpans::open(dir.join("traces.db")).expect("open spans");
            config
                .with_dev_issuer(issuer().clone())
                .with_url_policy(UrlPolicy::AllowLoopback)
                .with_span_store(Arc::new(spans))
        })
        .await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            bytes,
            json,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(&body))
            .await
    }

    /// Places an order of one keyboard and returns it.
    pub async fn place_order(&self, token: &str) -> Value {
        let reply = self
            .post(
                "/api/orders",
                token,
                serde_json::json!({"items": [{"sku": "KEYBOARD-01", "quantity": 1}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        reply.json
    }
}
