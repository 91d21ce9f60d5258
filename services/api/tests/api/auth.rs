//! Every /api route needs a valid RS256 access token; each way a token can be wrong is a 401
//! problem, and an unreachable key set a 503.

use crate::common::{HOUR, TestApp, b64, issuer, stranger, token, token_with};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eventforge_auth::{JwtVerifier, KeySource, VerifierConfig};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use serde_json::json;

/// Every authenticated route, with a body where it takes one.
fn protected_routes() -> Vec<(Method, String, Option<serde_json::Value>)> {
    let id = eventforge_core::OrderId::generate();
    vec![
        (Method::GET, "/api/inventory".into(), None),
        (
            Method::POST,
            "/api/orders".into(),
            Some(json!({"items": [{"sku": "KEYBOARD-01", "quantity": 1}]})),
        ),
        (Method::GET, "/api/orders".into(), None),
        (Method::GET, format!("/api/orders/{id}"), None),
        (Method::GET, format!("/api/orders/{id}/receipt"), None),
        (
            Method::POST,
            "/api/webhooks".into(),
            Some(json!({"url": "https://hooks.example.com/in"})),
        ),
        (Method::GET, "/api/webhooks".into(), None),
        (
            Method::DELETE,
            format!("/api/webhooks/{}", eventforge_core::WebhookId::generate()),
            None,
        ),
        (Method::GET, "/api/events".into(), None),
    ]
}

async fn assert_refused_everywhere(app: &TestApp, token: Option<&str>, why: &str) {
    for (method, path, body) in protected_routes() {
        let reply = app
            .request(method.clone(), &path, token, body.as_ref())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{why}: {method} {path}: {}",
            reply.json
        );
        reply.problem(StatusCode::UNAUTHORIZED);
        assert!(
            reply.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii")
                .starts_with("Bearer")
        );
    }
}

#[tokio::test]
async fn every_api_route_refuses_a_request_without_a_token() {
    let app = TestApp::new().await;
    assert_refused_everywhere(&app, None, "no token").await;
}

/// An unsigned token (`alg: none`) naming the issuer's key.
fn alg_none_token() -> String {
    let claims = issuer().access_token_claims("alice", HOUR).expect("claims");
    let header = json!({"alg": "none", "kid": issuer().key_id()});
    format!("{}.{}.", b64(&header), b64(&claims))
}

/// The algorithm-confusion forgery: HS256 with the issuer's public key (PEM) as the secret.
fn hs256_forged_with_the_public_key() -> String {
    let jwk = &issuer().jwks().keys[0];
    let AlgorithmParameters::RSA(rsa_params) = &jwk.algorithm else {
        panic!("an RSA key");
    };
    let n = URL_SAFE_NO_PAD.decode(&rsa_params.n).expect("n");
    let e = URL_SAFE_NO_PAD.decode(&rsa_params.e).expect("e");
    let public_pem = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .expect("public key")
    .to_public_key_pem(LineEnding::LF)
    .expect("pem");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(issuer().key_id().to_owned());
    let claims = issuer()
        .access_token_claims("mallory", HOUR)
        .expect("claims");
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .expect("forge")
}

#[tokio::test]
async fn every_api_route_refuses_every_kind_of_bad_token() {
    let app = TestApp::new().await;
    let an_hour_ago = jsonwebtoken::get_current_timestamp() - 3600;
    let bad_tokens = [
        ("expired", token_with("exp", json!(an_hour_ago))),
        (
            "another app client (audience)",
            token_with("client_id", json!("another-client")),
        ),
        (
            "another issuer",
            token_with("iss", json!("https://issuer.example.com")),
        ),
        ("an ID token", token_with("token_use", json!("id"))),
        ("alg none", alg_none_token()),
        (
            "HS256 forged with the public key",
            hs256_forged_with_the_public_key(),
        ),
        (
            "unknown kid",
            stranger().mint_access_token("alice", HOUR).expect("mint"),
        ),
    ];
    for (why, token) in &bad_tokens {
        assert_refused_everywhere(&app, Some(token), why).await;
    }
}

#[tokio::test]
async fn a_token_for_another_app_client_is_refused() {
    let app = TestApp::new().await;
    let reply = app
        .get(
            "/api/orders",
            &token_with("client_id", json!("another-client")),
        )
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["detail"]
            .as_str()
            .expect("detail")
            .contains("client")
    );
}

#[tokio::test]
async fn a_token_with_an_audience_meant_for_someone_else_is_refused() {
    // Cognito access tokens carry the audience as `client_id`; an `aud` does not stand in for it.
    let app = TestApp::new().await;
    let mut claims = issuer().access_token_claims("alice", HOUR).expect("claims");
    claims["aud"] = json!(crate::common::CLIENT_ID);
    claims["client_id"] = json!("someone-else");
    let token = issuer().sign_claims(&claims).expect("sign");
    app.get("/api/orders", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let app = TestApp::new().await;
    let token = token_with(
        "iss",
        json!("https://cognito-idp.eu-west-1.amazonaws.com/other"),
    );
    app.get("/api/orders", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_id_token_is_refused_as_the_wrong_token_use() {
    let app = TestApp::new().await;
    let reply = app
        .get("/api/orders", &token_with("token_use", json!("id")))
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["detail"]
            .as_str()
            .expect("detail")
            .contains("token_use")
    );
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused_naming_the_algorithm() {
    let app = TestApp::new().await;
    let reply = app.get("/api/orders", &alg_none_token()).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["detail"]
            .as_str()
            .expect("detail")
            .contains("none")
    );
}

#[tokio::test]
async fn an_hs256_token_forged_with_the_public_key_is_refused_naming_the_algorithm() {
    let app = TestApp::new().await;
    let reply = app
        .get("/api/orders", &hs256_forged_with_the_public_key())
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["detail"]
            .as_str()
            .expect("detail")
            .contains("HS256")
    );
}

#[tokio::test]
async fn a_token_signed_with_an_unpublished_key_is_refused() {
    let app = TestApp::new().await;
    let token = stranger().mint_access_token("alice", HOUR).expect("mint");
    let reply = app.get("/api/orders", &token).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert!(
        reply.json["detail"]
            .as_str()
            .expect("detail")
            .contains("key")
    );
}

#[tokio::test]
async fn garbage_and_other_schemes_are_refused() {
    let app = TestApp::new().await;
    app.get("/api/orders", "not-a-jwt")
        .await
        .problem(StatusCode::UNAUTHORIZED);
    for authorization in ["Basic YWxpY2U6cHc=", "Bearer", "Bearer ", &token("alice")] {
        let reply = app
            .send(
                Request::get("/api/orders")
                    .header(header::AUTHORIZATION, authorization)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        reply.problem(StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Request::get("/api/orders")
                .header(header::AUTHORIZATION, format!("bearer {}", token("alice")))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
}

#[tokio::test]
async fn an_unreachable_key_set_is_503_not_401() {
    // Nothing listens on a port we bound and closed again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        closed.local_addr().expect("addr")
    );
    drop(closed);
    let app = TestApp::configured(|mut config, _| {
        config.verifier = JwtVerifier::new(
            VerifierConfig::new(crate::common::ISSUER, crate::common::CLIENT_ID),
            KeySource::Url(url),
        );
        config
    })
    .await;

    let reply = app.get("/api/orders", &token("alice")).await;

    reply.problem(StatusCode::SERVICE_UNAVAILABLE);
}
