//! What `cargo xtask dev` adds: the issuer's JWKS, a token mint, the dashboard's configuration,
//! the dashboard itself and local receipt files.

use crate::common::{TestApp, issuer};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

async fn get(app: &TestApp, path: &str) -> crate::common::Reply {
    app.send(Request::get(path).body(Body::empty()).expect("request"))
        .await
}

#[tokio::test]
async fn the_jwks_is_the_dev_issuers_public_key_set() {
    let app = TestApp::dev().await;
    let reply = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        serde_json::to_value(issuer().jwks()).expect("jwks")
    );
}

#[tokio::test]
async fn a_minted_dev_token_opens_the_api() {
    let app = TestApp::dev().await;

    let minted = app
        .request(
            axum::http::Method::POST,
            "/dev/token",
            None,
            Some(&json!({"username": "alice"})),
        )
        .await;

    assert_eq!(minted.status, StatusCode::OK, "{}", minted.json);
    assert_eq!(minted.json["token_type"], "Bearer");
    assert_eq!(minted.json["expires_in"], 3600);
    assert_eq!(
        minted.json["user_id"],
        eventforge_auth::DevIssuer::user_id("alice")
    );
    let token = minted.json["access_token"].as_str().expect("token");
    assert_eq!(app.get("/api/orders", token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unusable_username_is_422() {
    let app = TestApp::dev().await;
    let reply = app
        .request(
            axum::http::Method::POST,
            "/dev/token",
            None,
            Some(&json!({"username": "not ok!"})),
        )
        .await;
    assert_eq!(reply.invalid_fields(), ["username"]);
}

#[tokio::test]
async fn config_json_says_dev_mode_unless_a_runtime_config_is_given() {
    let dev = TestApp::dev().await;
    assert_eq!(
        get(&dev, "/config.json").await.json,
        json!({"apiBaseUrl": "", "auth": {"mode": "dev"}})
    );

    let cognito = json!({"apiBaseUrl": "https://api.example.com", "auth": {"mode": "cognito", "region": "eu-west-1", "userPoolId": "p", "clientId": "c", "domain": "d"}});
    let configured =
        TestApp::configured(|config, _| config.with_runtime_config(cognito.clone())).await;
    assert_eq!(get(&configured, "/config.json").await.json, cognito);
}

#[tokio::test]
async fn the_dashboard_is_served_with_index_html_for_client_side_routes_but_never_for_api_paths() {
    let dashboard = tempfile::tempdir().expect("dir");
    std::fs::write(
        dashboard.path().join("index.html"),
        "<html>dashboard</html>",
    )
    .expect("index");
    std::fs::create_dir(dashboard.path().join("assets")).expect("assets");
    std::fs::write(dashboard.path().join("assets/app.js"), "console.log(1)").expect("asset");
    let dir = dashboard.path().to_owned();
    let app = TestApp::configured(|config, _| config.with_dashboard(dir)).await;

    let root = get(&app, "/").await;
    let asset = get(&app, "/assets/app.js").await;
    let client_route = get(&app, "/orders/123").await;

    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.bytes, b"<html>dashboard</html>");
    assert_eq!(asset.bytes, b"console.log(1)");
    assert!(
        asset.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );
    assert_eq!(client_route.status, StatusCode::OK);
    assert_eq!(client_route.bytes, b"<html>dashboard</html>");
    // Every page of the dashboard survives a reload or a bookmark, `/webhooks` included,
    // whose path the server's `/webhooks/ingest` shares a prefix with.
    for page in [
        "/orders",
        "/orders/new",
        "/events",
        "/webhooks",
        "/catalogue",
    ] {
        let reloaded = get(&app, page).await;
        assert_eq!(reloaded.status, StatusCode::OK, "{page}");
        assert_eq!(reloaded.bytes, b"<html>dashboard</html>", "{page}");
    }
    for api_path in ["/api/unknown", "/api", "/webhooks/other", "/dev/other"] {
        get(&app, api_path).await.problem(StatusCode::NOT_FOUND);
    }
    app.request(axum::http::Method::POST, "/orders/123", None, None)
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboards_files_are_gzipped_for_a_browser_that_accepts_it() {
    let dashboard = tempfile::tempdir().expect("dir");
    let script = "export const line = 'the same line again';\n".repeat(200);
    std::fs::write(dashboard.path().join("index.html"), "<html></html>").expect("index");
    std::fs::write(dashboard.path().join("app.js"), &script).expect("script");
    let dir = dashboard.path().to_owned();
    let app = TestApp::configured(|config, _| config.with_dashboard(dir)).await;

    let gzipped = app
        .send(
            Request::get("/app.js")
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let plain = get(&app, "/app.js").await;

    assert_eq!(gzipped.status, StatusCode::OK);
    assert_eq!(gzipped.headers[header::CONTENT_ENCODING], "gzip");
    assert!(
        gzipped.bytes.len() < script.len() / 10,
        "{} bytes",
        gzipped.bytes.len()
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped.bytes[..]),
        &mut unzipped,
    )
    .expect("gzip");
    assert_eq!(unzipped, script);
    assert!(!plain.headers.contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.bytes, script.as_bytes());
}

#[tokio::test]
async fn local_receipt_files_are_served_and_missing_ones_are_404_problems() {
    let app = TestApp::new().await;
    let pdf = b"%PDF-1.7 receipt";
    std::fs::write(app.dir.path().join("receipts/r-1.pdf"), pdf).expect("write receipt");

    let found = get(&app, "/files/receipts/r-1.pdf").await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.bytes, pdf);
    assert_eq!(found.headers[header::CONTENT_TYPE], "application/pdf");

    get(&app, "/files/receipts/missing.pdf")
        .await
        .problem(StatusCode::NOT_FOUND);
    std::fs::write(app.dir.path().join("secret.txt"), "no").expect("write");
    let escaped = get(&app, "/files/receipts/..%2Fsecret.txt").await;
    assert_ne!(escaped.status, StatusCode::OK);
    assert_ne!(escaped.bytes, b"no");
}
