//! `/api/webhooks`: registering, listing and deleting; only public https destinations.

use crate::common::{TestApp, token};
use axum::http::{Method, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn registering_a_public_https_url_answers_201_with_the_secret_once() {
    let app = TestApp::new().await;
    let alice = token("alice");

    let created = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/eventforge"}),
        )
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().expect("id");
    assert_eq!(
        created.headers[header::LOCATION],
        format!("/api/webhooks/{id}")
    );
    assert!(
        created.json["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );
    assert_eq!(
        created.json["event_types"],
        json!(["order.confirmed", "order.failed"])
    );

    let listed = app.get("/api/webhooks", &alice).await;
    assert_eq!(listed.status, StatusCode::OK);
    let webhooks = listed.json["webhooks"].as_array().expect("webhooks");
    assert_eq!(webhooks.len(), 1);
    assert_eq!(webhooks[0]["id"], id);
    assert_eq!(webhooks[0]["url"], "https://hooks.example.com/eventforge");
    assert!(
        webhooks[0].get("secret").is_none(),
        "the secret is shown only at creation"
    );
}

#[tokio::test]
async fn chosen_event_types_are_kept_and_malformed_ones_are_422() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let created = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/", "event_types": ["order.created"]}),
        )
        .await;
    assert_eq!(created.json["event_types"], json!(["order.created"]));

    let bad = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/", "event_types": ["Not An Event"]}),
        )
        .await;
    assert_eq!(bad.invalid_fields(), ["event_types[0]"]);

    let none = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/", "event_types": []}),
        )
        .await;
    assert_eq!(none.invalid_fields(), ["event_types"]);
}

#[tokio::test]
async fn plain_http_urls_are_422() {
    let app = TestApp::new().await;
    let reply = app
        .post(
            "/api/webhooks",
            &token("alice"),
            json!({"url": "http://hooks.example.com/"}),
        )
        .await;
    assert_eq!(reply.invalid_fields(), ["url"]);
}

#[tokio::test]
async fn private_loopback_and_metadata_addresses_are_422() {
    let app = TestApp::new().await;
    let alice = token("alice");
    for url in [
        "https://10.0.0.5/hook",
        "https://192.168.1.1/",
        "https://127.0.0.1/",
        "https://localhost/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[fd00:ec2::254]/",
        "not a url",
    ] {
        let reply = app.post("/api/webhooks", &alice, json!({"url": url})).await;
        assert_eq!(reply.invalid_fields(), ["url"], "{url}");
    }
}

#[tokio::test]
async fn loopback_over_http_is_accepted_only_in_development() {
    let app = TestApp::dev().await;
    let reply = app
        .post(
            "/api/webhooks",
            &token("alice"),
            json!({"url": "http://127.0.0.1:9000/hook"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
}

#[tokio::test]
async fn deleting_a_webhook_answers_204_then_404() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let created = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/"}),
        )
        .await;
    let path = format!("/api/webhooks/{}", created.json["id"].as_str().expect("id"));

    let deleted = app.request(Method::DELETE, &path, Some(&alice), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.bytes.is_empty());

    app.request(Method::DELETE, &path, Some(&alice), None)
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/webhooks", &alice).await.json["webhooks"],
        json!([])
    );
}

#[tokio::test]
async fn another_users_webhook_can_be_neither_seen_nor_deleted() {
    let app = TestApp::new().await;
    let alice = token("alice");
    let bob = token("bob");
    let created = app
        .post(
            "/api/webhooks",
            &alice,
            json!({"url": "https://hooks.example.com/"}),
        )
        .await;
    let path = format!("/api/webhooks/{}", created.json["id"].as_str().expect("id"));

    assert_eq!(
        app.get("/api/webhooks", &bob).await.json["webhooks"],
        json!([])
    );
    app.request(Method::DELETE, &path, Some(&bob), None)
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/webhooks", &alice).await.json["webhooks"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_webhook_id_that_is_no_uuid_is_400() {
    let app = TestApp::new().await;
    app.request(
        Method::DELETE,
        "/api/webhooks/xyz",
        Some(&token("alice")),
        None,
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_has_at_most_ten_webhooks() {
    let app = TestApp::new().await;
    let alice = token("alice");
    for n in 0..10 {
        let reply = app
            .post(
                "/api/webhooks",
                &alice,
                json!({"url": format!("https://hooks.example.com/{n}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    app.post(
        "/api/webhooks",
        &alice,
        json!({"url": "https://hooks.example.com/11"}),
    )
    .await
    .problem(StatusCode::CONFLICT);
}
