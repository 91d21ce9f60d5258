//! Cross-cutting behaviour: problem documents for every failure, the body limit, request ids,
//! the unauthenticated operational routes.

use crate::common::{TestApp, token};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

#[tokio::test]
async fn health_needs_no_token() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Request::get("/health")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_problem() {
    let app = TestApp::new().await;
    let padding = "x".repeat(70 * 1024);
    let body = format!(r#"{{"items": [{{"sku": "{padding}", "quantity": 1}}]}}"#);
    let request = |with_length: bool| {
        let mut builder = Request::post("/api/orders")
            .header(header::AUTHORIZATION, format!("Bearer {}", token("alice")))
            .header(header::CONTENT_TYPE, "application/json");
        if with_length {
            builder = builder.header(header::CONTENT_LENGTH, body.len());
        }
        builder.body(Body::from(body.clone())).expect("request")
    };

    app.send(request(true))
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
    app.send(request(false))
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_oversized_ingest_body_is_413_too() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Request::post("/webhooks/ingest")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(vec![b' '; 65 * 1024]))
                .expect("request"),
        )
        .await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = TestApp::new().await;
    for path in ["/nope", "/api/nope", "/api/orders/a/b/c", "/files/other"] {
        let reply = app
            .send(Request::get(path).body(Body::empty()).expect("request"))
            .await;
        let problem = reply.problem(StatusCode::NOT_FOUND);
        assert!(
            problem["detail"].as_str().expect("detail").contains(path),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn a_method_a_route_does_not_have_is_a_405_problem() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::DELETE, "/health"),
        (Method::PATCH, "/api/webhooks"),
        (Method::GET, "/webhooks/ingest"),
    ] {
        let reply = app.request(method, path, None, None).await;
        reply.problem(StatusCode::METHOD_NOT_ALLOWED);
        eprintln!("allow: {:?}", reply.headers.get(header::ALLOW));
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let app = TestApp::new().await;

    let generated = app
        .send(
            Request::get("/health")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let given = app
        .send(
            Request::get("/api/orders")
                .header("x-request-id", "trace-me-42")
                .body(Body::empty())
                .expect("request"),
        )
        .await;

    let id = generated.headers["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(given.headers["x-request-id"], "trace-me-42");
    assert_eq!(given.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn development_routes_are_absent_in_production() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::GET, "/.well-known/jwks.json"),
        (Method::POST, "/dev/token"),
        (Method::GET, "/config.json"),
    ] {
        app.request(
            method,
            path,
            None,
            Some(&serde_json::json!({"username": "alice"})),
        )
        .await
        .problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn browsers_on_a_configured_origin_may_call_the_api_and_others_may_not() {
    let app = TestApp::configured(|config, _| {
        config.with_cors_allowed_origins(vec!["https://dashboard.example.com".to_owned()])
    })
    .await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/orders")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type,idempotency-key",
            )
            .body(Body::empty())
            .expect("request")
    };

    let allowed = app.send(preflight("https://dashboard.example.com")).await;
    let refused = app.send(preflight("https://evil.example.com")).await;

    assert!(allowed.status.is_success());
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://dashboard.example.com"
    );
    assert!(
        refused
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let actual = app
        .send(
            Request::get("/api/orders")
                .header(header::ORIGIN, "https://dashboard.example.com")
                .header(header::AUTHORIZATION, format!("Bearer {}", token("alice")))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(actual.status, StatusCode::OK);
    assert!(
        actual.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .expect("ascii")
            .contains("location")
    );
}

#[tokio::test]
async fn without_configured_origins_no_cors_headers_are_sent() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Request::get("/health")
                .header(header::ORIGIN, "https://dashboard.example.com")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert!(
        reply
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}
